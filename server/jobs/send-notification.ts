/**
 * Delivers one notification email through the configured mail transport (SMTP,
 * or the outbox folder). The notification is claimed first, so that two runs of
 * this job (a stalled job put back while its worker was only slow, the sweep's
 * copy) never send it at once; a run that finds it claimed comes back when the
 * claim ends, and then finds it sent, or sends it if the holder died. The
 * message id is derived from the notification's id, so the one copy a crash
 * between sending and writing it down can still cause is recognisable as the
 * same message.
 */
import { claimNotification, closeUndeliverable, loadNotificationContext, markNotificationAttemptFailed, markNotificationSent } from '../../db/notifications.js';
import { renderNotification } from '../mail.js';
import { runMessageDigest } from './send-message-digest.js';
import { SEND_LEASE_SECONDS, type JobDefinition } from './job.js';

export const sendNotification: JobDefinition = {
  retries: 5,
  async run(ctx, notificationId, { final }) {
    // A conversation's batched email has its own schedule and content (send-message-digest.ts).
    if (await runMessageDigest(ctx, notificationId, final)) return;
    const claim = await claimNotification(ctx.db, notificationId, SEND_LEASE_SECONDS);
    if (claim.state === 'done') return;
    if (claim.state === 'held') {
      // A second past the lease, so that clocks a little apart still find it ended.
      await ctx.enqueue([{ name: 'send-notification', id: notificationId, notBefore: new Date(claim.until.getTime() + 1000) }]);
      return;
    }
    const notification = await loadNotificationContext(ctx.db, notificationId);
    if (!notification) return;
    if (!notification.recipient_email) {
      await closeUndeliverable(ctx.db, notificationId, 'the recipient deleted their account');
      return;
    }
    try {
      await ctx.mailer.send(renderNotification(notification, notification.recipient_email));
    } catch (err) {
      await markNotificationAttemptFailed(ctx.db, notificationId, String(err), final);
      throw err;
    }
    await markNotificationSent(ctx.db, notificationId);
  },
};
