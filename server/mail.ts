/**
 * Outgoing email. With SMTP_URL set, messages go out through nodemailer's SMTP
 * transport; otherwise they are written, as complete .eml files, to the outbox
 * folder (MAIL_OUTBOX_DIR), where a developer reads them with any text viewer.
 * Messages are rendered from the database when the job runs, so they say what is
 * true then.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { MessageDigest } from '../db/conversations.js';
import type { NotificationContext } from '../db/notifications.js';

export interface MailMessage {
  /** Stable per notification: the Message-ID and the outbox file name. */
  id: string;
  to: string;
  subject: string;
  text: string;
}

export interface Mailer {
  readonly kind: 'smtp' | 'outbox';
  send(message: MailMessage): Promise<void>;
  close(): void;
}

export function createMailer(options: { smtpUrl: string | undefined; outboxDir: string; from: string }): Mailer {
  const envelope = (message: MailMessage) => ({
    from: options.from,
    to: message.to,
    subject: message.subject,
    text: message.text,
    messageId: `<${message.id}@staybook>`,
  });
  if (options.smtpUrl) {
    // Bounded well below the claim on a notification (SEND_LEASE_SECONDS, 30 s): a send that
    // outlived its claim could go out twice. nodemailer waits minutes by default.
    const transport = nodemailer.createTransport({ url: options.smtpUrl, connectionTimeout: 5_000, greetingTimeout: 5_000, socketTimeout: 10_000 });
    return {
      kind: 'smtp',
      async send(message) {
        await transport.sendMail(envelope(message));
      },
      close: () => transport.close(),
    };
  }
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    kind: 'outbox',
    async send(message) {
      const info = await transport.sendMail(envelope(message));
      await mkdir(options.outboxDir, { recursive: true });
      // Named by the notification: sending it again rewrites the same file.
      await writeFile(path.join(options.outboxDir, `${message.id}.eml`), info.message as Buffer);
    },
    close: () => transport.close(),
  };
}

/** An amount in minor units as people read it ("451.00 EUR"), without floating point. */
export function formatMoney(amount: number, currency: string): string {
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  const sign = amount < 0 ? '-' : '';
  const units = Math.abs(amount);
  if (digits === 0) return `${sign}${units} ${currency}`;
  const unit = 10 ** digits;
  return `${sign}${Math.trunc(units / unit)}.${String(units % unit).padStart(digits, '0')} ${currency}`;
}

export function renderNotification(n: NotificationContext, to: string): MailMessage {
  const stay = `${n.property_name}, ${n.property_city}: ${n.check_in} to ${n.check_out}, ${n.guests} guest${n.guests === 1 ? '' : 's'}`;
  const hello = `Hello ${n.recipient_name},\n\n`;
  const footer = `\n\nBooking ${n.booking_id}\n-- \nStaybook\n`;
  const id = `${n.kind}-${n.id}`;
  switch (n.kind) {
    case 'booking_confirmed':
      return { id, to, subject: `Your stay at ${n.property_name} is confirmed`, text: `${hello}your booking is confirmed.\n\n${stay}${footer}` };
    case 'booking_cancelled': {
      if (n.recipient_id !== n.guest_id) {
        // The host of a request the guest withdrew.
        return { id, to, subject: `A request for ${n.property_name} was withdrawn`, text: `${hello}the guest withdrew their request; the dates are free again.\n\n${stay}${footer}` };
      }
      const refund = n.refund_amount === null ? 'Nothing had been paid, so nothing is refunded.'
        : n.refund_amount === 0 ? 'Under the listing\'s cancellation policy, nothing is refunded.'
        : `${formatMoney(n.refund_amount, n.currency)} will be refunded to your payment method.`;
      return { id, to, subject: `Your booking at ${n.property_name} is cancelled`, text: `${hello}your booking has been cancelled.\n\n${stay}\n\n${refund}${footer}` };
    }
    case 'payment_receipt':
      return {
        id,
        to,
        subject: `Receipt: ${formatMoney(n.payment_amount ?? n.total, n.currency)} for ${n.property_name}`,
        text:
          `${hello}we received your payment.\n\n${stay}\n\n` +
          `Amount: ${formatMoney(n.payment_amount ?? n.total, n.currency)}\n` +
          `Paid with: ${n.payment_method}\nReference: ${n.payment_reference}\nPaid at: ${n.paid_at?.toISOString() ?? ''}${footer}`,
      };
    case 'refund_issued':
      return {
        id,
        to,
        subject: `Refund: ${formatMoney(n.refund_amount_sent ?? 0, n.currency)} for ${n.property_name}`,
        text:
          `${hello}we refunded ${formatMoney(n.refund_amount_sent ?? 0, n.currency)} to your payment method ` +
          `(reference ${n.refund_reference}). Depending on your bank it can take 5 to 10 days to appear.\n\n${stay}${footer}`,
      };
    case 'booking_requested':
      return {
        id, to, subject: `New booking request for ${n.property_name}`,
        text: `${hello}a guest asks to stay at your listing.\n\n${stay}\n\nAccept or decline it before ${n.expires_at?.toISOString() ?? 'it expires'}; unanswered, it expires and the dates are free again.${footer}`,
      };
    case 'booking_accepted':
      return {
        id, to, subject: `Your request for ${n.property_name} was accepted`,
        text: `${hello}the host accepted your request. Pay by ${n.expires_at?.toISOString() ?? 'the end of the hold'} to confirm the stay.\n\n${stay}${footer}`,
      };
    case 'booking_declined':
      return {
        id, to, subject: `Your request for ${n.property_name} was declined`,
        text: `${hello}the host declined your request. Nothing was charged.\n\nThe host wrote: ${n.decline_reason ?? ''}\n\n${stay}${footer}`,
      };
    case 'booking_request_expired':
      return {
        id, to, subject: `Your request for ${n.property_name} expired`,
        text: `${hello}the host did not answer your request in time, so it has expired and the dates are free again. Nothing was charged.\n\n${stay}${footer}`,
      };
    default:
      throw new Error(`no email for notification kind ${n.kind}`);
  }
}

/** A conversation's batched email: the messages the recipient has not read, oldest first. */
export function renderMessageDigest(d: MessageDigest, to: string): MailMessage {
  const lines = d.messages.map((m) => `${m.sender_name}, ${m.created_at.toISOString()}:\n${m.body}`);
  const more = d.total > d.messages.length ? `\n\n...and ${d.total - d.messages.length} more.` : '';
  const count = d.total === 1 ? 'a new message' : `${d.total} new messages`;
  return {
    id: `new_messages-${d.id}`,
    to,
    subject: `${d.total === 1 ? 'A new message' : `${d.total} new messages`} about ${d.property_name}`,
    text:
      `Hello ${d.recipient_name},\n\nyou have ${count} about ${d.property_name}, ${d.property_city}:\n\n` +
      `${lines.join('\n\n')}${more}\n\nReply in the conversation: /conversations/${d.conversation_id}\n-- \nStaybook\n`,
  };
}
