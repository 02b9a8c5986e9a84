/**
 * Conversations: a guest asks a listing's host about it (startConversation, the
 * one thread per guest and listing, which a booking also makes), both write in
 * it (sendMessage), mark it read and may block each other; admins may read any
 * thread for moderation, and each such read is recorded.
 *
 * Every writer of a thread's messages or read markers holds its row lock until
 * it commits (db/conversations.ts), which keeps unread counts exact under
 * concurrent sends from both sides. After commit: the other participant is owed
 * one batched `new_messages` email per thread and window (the job waits for
 * `not_before`), both participants' live streams are told (server/events.ts),
 * and a sender's first message in a thread makes the host's cached profile
 * stale (its response numbers moved).
 * Who may do what is decided in ./access.ts; the rules in ./conversations/rules.ts.
 */
import {
  blockersOf,
  ensureConversation,
  findConversation,
  findConversationParties,
  insertMessage,
  listConversationsOf,
  listMessagesOf,
  lockConversation,
  markRead,
  queueMessageDigest,
  recordAdminRead,
  setBlock,
  type ConversationRow,
  type MessageRow,
} from '../db/conversations.js';
import type { Tx } from '../db/index.js';
import { findPropertyById } from '../db/properties.js';
import type { Message } from '../generated/client/types.gen.js';
import type { AuthUser } from '../server/auth.js';
import type { Config } from '../server/config.js';
import { ApiError } from '../server/errors.js';
import { publishEvent } from '../server/events.js';
import { inIdempotentTransaction } from '../server/idempotency.js';
import type { JobRequest } from '../server/jobs/job.js';
import { caller, startJobs, type RequestContext, type ResourceHandlers } from '../server/operations.js';
import { decodeCursor, page } from '../server/pagination.js';
import { isModerationRead, mayReadConversation, mayTakePartInConversation, permit } from './access.js';
import { conversationRowToConversation, messageRowToMessage } from './presenters.js';
import { sendRefusal, startRefusal } from './conversations/rules.js';

/** What a committed message still owes: its email job, the live event, a stale host profile. */
interface Sent {
  message: MessageRow;
  first: boolean;
  guestId: string;
  hostId: string;
  jobs: JobRequest[];
}

/** Appends the caller's message to a thread whose lock the transaction holds: refused while blocked; owes the other side its batched email. */
async function sendInLockedThread(trx: Tx, config: Config, auth: AuthUser, thread: { id: string; guest_id: string; host_id: string }, text: string): Promise<Sent> {
  const blockers = await blockersOf(trx, thread.id);
  const refusal = sendRefusal(blockers.length > 0, blockers.includes(auth.id));
  if (refusal) throw refusal;
  const { message, first } = await insertMessage(trx, { conversationId: thread.id, senderId: auth.id, body: text });
  const recipientId = auth.id === thread.guest_id ? thread.host_id : thread.guest_id;
  const digest = await queueMessageDigest(trx, { conversationId: thread.id, recipientId, delaySeconds: config.messageEmailDelaySeconds });
  return {
    message,
    first,
    guestId: thread.guest_id,
    hostId: thread.host_id,
    jobs: digest ? [{ name: 'send-notification', id: digest.id, notBefore: digest.notBefore }] : [],
  };
}

/** After commit (never on a replay, which did nothing): the email job, the live event to both sides, the host's profile. */
async function afterSent(ctx: RequestContext, sent: Sent | undefined): Promise<void> {
  if (!sent) return;
  await startJobs(ctx, sent.jobs);
  const data: Message = messageRowToMessage(sent.message);
  await publishEvent(ctx, [sent.guestId, sent.hostId], { type: 'message.created', data });
  if (sent.first) await ctx.deps.cache.bump({ user: sent.hostId });
}

function present(row: ConversationRow | undefined) {
  if (!row) throw new ApiError('not_found', 'No such conversation.');
  return conversationRowToConversation(row);
}

/** Runs `work` on a participant's thread under its lock (404 to strangers, 403 to admins who only read it). */
async function takePart<T>(ctx: RequestContext, conversationId: string, work: (trx: Tx, thread: { id: string; guest_id: string; host_id: string }, auth: AuthUser) => Promise<T>): Promise<T> {
  const auth = caller(ctx);
  return ctx.deps.db.transaction().execute(async (trx) => {
    const thread = permit(mayTakePartInConversation(auth, await lockConversation(trx, conversationId)));
    return work(trx, thread, auth);
  });
}

export const conversationHandlers: ResourceHandlers<
  | 'listConversations'
  | 'startConversation'
  | 'getConversation'
  | 'listMessages'
  | 'sendMessage'
  | 'markConversationRead'
  | 'blockConversation'
  | 'unblockConversation'
> = {
  async listConversations({ query }, ctx) {
    const auth = caller(ctx);
    const limit = query.limit ?? 20;
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    const rows = await listConversationsOf(ctx.deps.db, {
      userId: auth.id,
      role: query.role,
      after: after ? { activityAt: after[0] as string, id: after[1] as string } : undefined,
      limit,
    });
    return { status: 200, body: page(rows, limit, conversationRowToConversation, (row) => [row.last_activity_at.toISOString(), row.id]) };
  },

  async startConversation({ body, headers }, ctx) {
    const auth = caller(ctx);
    const { db, config } = ctx.deps;
    let sent: Sent | undefined;
    const reply = await inIdempotentTransaction(
      db,
      { userId: auth.id, operation: 'startConversation', key: headers['idempotency-key'], request: body },
      async (trx) => {
        const listing = await findPropertyById(trx, body.property_id);
        if (!listing) throw new ApiError('not_found', 'No such property.');
        const refusal = startRefusal(listing, auth.id);
        if (refusal) throw refusal;
        // Makes the thread or takes its lock: the guest's concurrent first messages land in one thread, in order.
        const thread = await ensureConversation(trx, { guestId: auth.id, propertyId: listing.id });
        if (!thread) throw new ApiError('not_found', 'No such property.');
        sent = await sendInLockedThread(trx, config, auth, { id: thread.id, guest_id: auth.id, host_id: listing.host_id }, body.body);
        const conversation = present(await findConversation(trx, thread.id, auth.id));
        return thread.created
          ? { status: 201 as const, body: conversation, headers: { Location: `/conversations/${thread.id}` } }
          : { status: 200 as const, body: conversation };
      },
    );
    await afterSent(ctx, sent);
    return reply;
  },

  async getConversation({ path }, ctx) {
    const auth = caller(ctx);
    const row = permit(mayReadConversation(auth, await findConversation(ctx.deps.db, path.conversation_id, auth.id)));
    if (isModerationRead(auth, row)) await recordAdminRead(ctx.deps.db, row.id, auth.id, 'getConversation');
    return { status: 200, body: conversationRowToConversation(row) };
  },

  async listMessages({ path, query }, ctx) {
    const auth = caller(ctx);
    const { db } = ctx.deps;
    const thread = permit(mayReadConversation(auth, await findConversationParties(db, path.conversation_id)));
    const limit = query.limit ?? 20;
    const after = decodeCursor(query.cursor, ['timestamp', 'uuid']);
    if (isModerationRead(auth, thread)) await recordAdminRead(db, thread.id, auth.id, 'listMessages');
    const rows = await listMessagesOf(db, thread.id, {
      after: after ? { createdAt: after[0] as string, id: after[1] as string } : undefined,
      limit,
    });
    return { status: 200, body: page(rows, limit, messageRowToMessage, (row) => [row.created_at.toISOString(), row.id]) };
  },

  async sendMessage({ path, body, headers }, ctx) {
    const auth = caller(ctx);
    const { db, config } = ctx.deps;
    let sent: Sent | undefined;
    const reply = await inIdempotentTransaction(
      db,
      { userId: auth.id, operation: 'sendMessage', key: headers['idempotency-key'], request: { conversation_id: path.conversation_id, ...body } },
      async (trx) => {
        const thread = permit(mayTakePartInConversation(auth, await lockConversation(trx, path.conversation_id)));
        sent = await sendInLockedThread(trx, config, auth, thread, body.body);
        return { status: 201 as const, body: messageRowToMessage(sent.message) };
      },
    );
    await afterSent(ctx, sent);
    return reply;
  },

  async markConversationRead({ path }, ctx) {
    const { read, parties } = await takePart(ctx, path.conversation_id, async (trx, thread, auth) => ({
      read: { conversation_id: thread.id, user_id: auth.id, last_read_at: (await markRead(trx, thread.id, auth.id)).toISOString(), unread_count: 0 },
      parties: [thread.guest_id, thread.host_id],
    }));
    await publishEvent(ctx, parties, { type: 'conversation.read', data: read });
    return { status: 200, body: read };
  },

  async blockConversation({ path }, ctx) {
    const body = await takePart(ctx, path.conversation_id, async (trx, thread, auth) => {
      await setBlock(trx, thread.id, auth.id, true);
      return present(await findConversation(trx, thread.id, auth.id));
    });
    return { status: 200, body };
  },

  async unblockConversation({ path }, ctx) {
    const body = await takePart(ctx, path.conversation_id, async (trx, thread, auth) => {
      await setBlock(trx, thread.id, auth.id, false);
      return present(await findConversation(trx, thread.id, auth.id));
    });
    return { status: 200, body };
  },
};
