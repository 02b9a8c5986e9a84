/**
 * Delivers one notification email through the configured mail transport (SMTP,
 * or the outbox folder). The message id is derived from the notification's id, so
 * a retry after a lost acknowledgement is recognisable as the same message.
 */
import { closeUndeliverable, loadNotificationContext, markNotificationAttemptFailed, markNotificationSent } from '../../db/notifications.js';
import { renderNotification } from '../mail.js';
import type { JobDefinition } from './job.js';

export const sendNotification: JobDefinition = {
  retries: 5,
  async run(ctx, notificationId, { final }) {
    const notification = await loadNotificationContext(ctx.db, notificationId);
    if (!notification || notification.status !== 'pending') return;
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
