/**
 * The batched `new_messages` email: one per conversation and recipient per
 * window. The first unread message of a window owes it, due `not_before`
 * (MESSAGE_EMAIL_DELAY_SECONDS later); later messages of the window join it
 * (db/conversations.ts queueMessageDigest). When it is due, it lists what the
 * recipient has still not read, or, when they have read it all, is closed as
 * `skipped` without an email. A run that comes early (the sweep starts every
 * pending notification) puts the job back until it is due. Claimed like every
 * notification (send-notification.ts), so two runs never send it twice.
 */
import { findNotificationSchedule, loadMessageDigest, queueMessageDigest, skipNotification } from '../../db/conversations.js';
import { claimNotification, closeUndeliverable, markNotificationAttemptFailed, markNotificationSent } from '../../db/notifications.js';
import { renderMessageDigest } from '../mail.js';
import { SEND_LEASE_SECONDS, type JobContext } from './job.js';

/** Whether `id` is a digest (then this ran it); false leaves it to the booking notifications' path. */
export async function runMessageDigest(ctx: JobContext, id: string, final: boolean): Promise<boolean> {
  const schedule = await findNotificationSchedule(ctx.db, id);
  if (schedule?.kind !== 'new_messages') return false;
  if (schedule.status !== 'pending') return true;
  if (schedule.early && schedule.not_before) {
    await ctx.enqueue([{ name: 'send-notification', id, notBefore: schedule.not_before }]);
    return true;
  }
  const claim = await claimNotification(ctx.db, id, SEND_LEASE_SECONDS);
  if (claim.state === 'done') return true;
  if (claim.state === 'held') {
    await ctx.enqueue([{ name: 'send-notification', id, notBefore: new Date(claim.until.getTime() + 1000) }]);
    return true;
  }
  const digest = await loadMessageDigest(ctx.db, id);
  if (!digest) return true;
  if (!digest.recipient_email) {
    await closeUndeliverable(ctx.db, id, 'the recipient deleted their account');
    return true;
  }
  if (digest.messages.length === 0) {
    await skipNotification(ctx.db, id);
    return true;
  }
  try {
    await ctx.mailer.send(renderMessageDigest(digest, digest.recipient_email));
  } catch (err) {
    await markNotificationAttemptFailed(ctx.db, id, String(err), final);
    throw err;
  }
  await markNotificationSent(ctx.db, id);
  // Messages that arrived while this one was being written joined it, but it was rendered without them:
  // they open the next window (unless the recipient has read them meanwhile, or another message already did).
  const now = await loadMessageDigest(ctx.db, id);
  if (now && now.total > digest.total) {
    const next = await queueMessageDigest(ctx.db, { conversationId: digest.conversation_id, recipientId: digest.recipient_id, delaySeconds: ctx.config.messageEmailDelaySeconds });
    if (next) await ctx.enqueue([{ name: 'send-notification', id: next.id, notBefore: next.notBefore }]);
  }
  return true;
}
