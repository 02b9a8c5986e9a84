/**
 * Queries on conversations, their messages, read markers, blocks, the record
 * of admins' moderation reads, the batched "new messages" email and hosts'
 * response statistics. Each takes the database or a transaction first.
 *
 * Exact unread counts: every writer of a thread's messages or read markers
 * (sendMessage, startConversation, markConversationRead) holds its
 * conversation's row lock (FOR NO KEY UPDATE) until it commits, and a
 * message's time is taken under that lock and is always later than the
 * thread's previous activity. So a thread's messages are ordered as they were
 * committed, a read marker (the thread's last activity when it was set) has
 * exactly the messages before it behind it, and "unread" is a count of the
 * other side's messages after the marker, by SQL, never a stored counter.
 */
import { sql, type Insertable, type Selectable } from 'kysely';
import type { Db, Tx } from './index.js';
import type { ConversationParticipants, Conversations, Messages } from '../generated/db.js';

export type MessageRow = Selectable<Messages>;

/** A conversation as one viewer sees it: their read marker and unread count, the last message, who blocks. */
export type ConversationRow = Selectable<Conversations> & {
  last_message_id: string | null;
  last_message_sender_id: string | null;
  last_message_body: string | null;
  last_message_created_at: Date | null;
  /** The viewer's marker; null when they never marked it read or are not a participant. */
  last_read_at: Date | null;
  unread_count: number;
  blocked_by: string[];
};

const messageColumns = ['messages.id', 'messages.conversation_id', 'messages.sender_id', 'messages.body', 'messages.created_at'] as const;

function selectConversations(db: Db | Tx, viewerId: string) {
  return db
    .selectFrom('conversations as c')
    .leftJoin('conversation_participants as me', (join) => join.onRef('me.conversation_id', '=', 'c.id').on('me.user_id', '=', viewerId))
    .leftJoinLateral(
      (eb) =>
        eb
          .selectFrom('messages')
          .select(['messages.id', 'messages.sender_id', 'messages.body', 'messages.created_at'])
          .whereRef('messages.conversation_id', '=', 'c.id')
          .orderBy('messages.created_at', 'desc')
          .orderBy('messages.id', 'desc')
          .limit(1)
          .as('lm'),
      (join) => join.onTrue(),
    )
    .selectAll('c')
    .select([
      'lm.id as last_message_id',
      'lm.sender_id as last_message_sender_id',
      'lm.body as last_message_body',
      'lm.created_at as last_message_created_at',
      'me.last_read_at',
      sql<number>`case when me.user_id is null then 0 else (
        select count(*) from messages m
        where m.conversation_id = c.id and m.sender_id <> me.user_id and (me.last_read_at is null or m.created_at > me.last_read_at)
      )::int end`.as('unread_count'),
      sql<string[]>`array(
        select p.user_id::text from conversation_participants p
        where p.conversation_id = c.id and p.blocked_at is not null order by p.blocked_at, p.user_id
      )`.as('blocked_by'),
    ]);
}

export async function findConversation(db: Db | Tx, id: string, viewerId: string): Promise<ConversationRow | undefined> {
  return selectConversations(db, viewerId).where('c.id', '=', id).executeTakeFirst();
}

export interface ConversationListOptions {
  userId: string;
  role?: 'guest' | 'host' | undefined;
  /** last_activity_at and id of the last row of the previous page. */
  after?: { activityAt: string; id: string } | undefined;
  limit: number;
}

/**
 * A user's threads, newest activity first; each side is answered by its own index.
 * Both sides at once are each side's page, merged: `guest_id = me or host_id = me`
 * would read and sort every thread of the user for each page (a BitmapOr, or a
 * sequential scan for a guest with 20k threads). The sides never share a thread
 * (conversations_parties_check), so the page is among the two sides' pages.
 */
export async function listConversationsOf(db: Db, options: ConversationListOptions): Promise<ConversationRow[]> {
  let query = selectConversations(db, options.userId);
  query =
    options.role === 'guest' ? query.where('c.guest_id', '=', options.userId)
    : options.role === 'host' ? query.where('c.host_id', '=', options.userId)
    : query.where('c.id', 'in', (eb) =>
        eb.selectFrom(pageOfSide(db, 'guest_id', options).as('g')).select('g.id')
          .unionAll(eb.selectFrom(pageOfSide(db, 'host_id', options).as('h')).select('h.id')),
      );
  if (options.after) {
    const { activityAt, id } = options.after;
    query = query.where((eb) => eb(eb.refTuple('c.last_activity_at', 'c.id'), '<', eb.tuple(new Date(activityAt), id)));
  }
  return query.orderBy('c.last_activity_at', 'desc').orderBy('c.id', 'desc').limit(options.limit + 1).execute();
}

/** The ids of one side's page of the user's threads: a range of conversations_guest_activity_idx or conversations_host_activity_idx. */
function pageOfSide(db: Db, side: 'guest_id' | 'host_id', options: ConversationListOptions) {
  let query = db.selectFrom('conversations').select('id').where(side, '=', options.userId);
  if (options.after) {
    const { activityAt, id } = options.after;
    query = query.where((eb) => eb(eb.refTuple('last_activity_at', 'id'), '<', eb.tuple(new Date(activityAt), id)));
  }
  return query.orderBy('last_activity_at', 'desc').orderBy('id', 'desc').limit(options.limit + 1);
}

/** The thread's parties, locked (FOR NO KEY UPDATE) until the transaction ends: the lock every writer of its messages and markers takes. */
export async function lockConversation(trx: Tx, id: string) {
  return trx
    .selectFrom('conversations')
    .select(['id', 'guest_id', 'host_id', 'property_id', 'last_activity_at'])
    .where('id', '=', id)
    .forNoKeyUpdate()
    .executeTakeFirst();
}

/**
 * The one thread of a guest about a listing, made when missing (with both
 * participants), and linked to `bookingId` when given (the latest booking wins).
 * Takes the thread's row lock. Undefined when the listing does not exist or was
 * withdrawn, or when the guest is its host (no thread with oneself).
 */
export async function ensureConversation(
  trx: Tx,
  input: { guestId: string; propertyId: string; bookingId?: string | undefined },
): Promise<{ id: string; created: boolean } | undefined> {
  const row = await trx
    .insertInto('conversations')
    .columns(['property_id', 'guest_id', 'host_id', 'booking_id'])
    .expression((eb) =>
      eb
        .selectFrom('properties')
        .select([
          'properties.id',
          sql<string>`${input.guestId}::uuid`.as('guest_id'),
          'properties.host_id',
          sql<string | null>`${input.bookingId ?? null}::uuid`.as('booking_id'),
        ])
        .where('properties.id', '=', input.propertyId)
        .where('properties.deleted_at', 'is', null)
        .where('properties.host_id', '<>', input.guestId),
    )
    .onConflict((oc) =>
      oc.constraint('conversations_guest_property_key').doUpdateSet((eb) => ({
        booking_id: eb.fn.coalesce(eb.ref('excluded.booking_id'), eb.ref('conversations.booking_id')),
      })),
    )
    .returning(['id', 'guest_id', 'host_id', sql<boolean>`xmax = 0`.as('created')])
    .executeTakeFirst();
  if (!row) return undefined;
  if (row.created) {
    await trx
      .insertInto('conversation_participants')
      .values([
        { conversation_id: row.id, user_id: row.guest_id, role: 'guest' },
        { conversation_id: row.id, user_id: row.host_id, role: 'host' },
      ])
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
  return { id: row.id, created: row.created };
}

/** The participants who block the other now (none, one or both). */
export async function blockersOf(trx: Tx, conversationId: string): Promise<string[]> {
  const rows = await trx
    .selectFrom('conversation_participants')
    .select('user_id')
    .where('conversation_id', '=', conversationId)
    .where('blocked_at', 'is not', null)
    .execute();
  return rows.map((row) => row.user_id);
}

/** A thread's parties, for deciding who may read it. */
export async function findConversationParties(db: Db | Tx, id: string) {
  return db.selectFrom('conversations').select(['id', 'guest_id', 'host_id']).where('id', '=', id).executeTakeFirst();
}

/**
 * Appends a message under the thread's lock (lockConversation or
 * ensureConversation first): its time is now, to the millisecond, and always
 * after the thread's previous activity, which moves to it. `first` says whether
 * it is its sender's first message in the thread (a host's response statistics move).
 */
export async function insertMessage(
  trx: Tx,
  input: { conversationId: string; senderId: string; body: string },
): Promise<{ message: MessageRow; first: boolean }> {
  const earlier = await trx
    .selectFrom('messages')
    .select('id')
    .where('conversation_id', '=', input.conversationId)
    .where('sender_id', '=', input.senderId)
    .limit(1)
    .executeTakeFirst();
  const message = await trx
    .insertInto('messages')
    .values((eb) => ({
      conversation_id: input.conversationId,
      sender_id: input.senderId,
      body: input.body,
      created_at: eb
        .selectFrom('conversations')
        .select(sql<Date>`greatest(date_trunc('milliseconds', clock_timestamp()), last_activity_at + interval '1 millisecond')`.as('at'))
        .where('id', '=', input.conversationId),
    }))
    .returning(messageColumns)
    .executeTakeFirstOrThrow();
  // The thread's last activity follows: the trigger messages_move_conversation_activity moves it to this message's time.
  return { message, first: earlier === undefined };
}

export interface MessageListOptions {
  /** created_at and id of the last row of the previous page. */
  after?: { createdAt: string; id: string } | undefined;
  limit: number;
}

/** A thread's messages, newest first. */
export async function listMessagesOf(db: Db, conversationId: string, options: MessageListOptions): Promise<MessageRow[]> {
  let query = db.selectFrom('messages').select(messageColumns).where('messages.conversation_id', '=', conversationId);
  if (options.after) {
    const { createdAt, id } = options.after;
    query = query.where((eb) => eb(eb.refTuple('messages.created_at', 'messages.id'), '<', eb.tuple(new Date(createdAt), id)));
  }
  return query.orderBy('messages.created_at', 'desc').orderBy('messages.id', 'desc').limit(options.limit + 1).execute();
}

/** Marks everything in the thread so far read for the participant (under the thread's lock): the marker is the thread's last activity. */
export async function markRead(trx: Tx, conversationId: string, userId: string): Promise<Date> {
  const row = await trx
    .updateTable('conversation_participants as p')
    .from('conversations as c')
    .set((eb) => ({ last_read_at: eb.ref('c.last_activity_at') }))
    .whereRef('c.id', '=', 'p.conversation_id')
    .where('p.conversation_id', '=', conversationId)
    .where('p.user_id', '=', userId)
    .returning('p.last_read_at')
    .executeTakeFirstOrThrow();
  return row.last_read_at!;
}

/** Sets or lifts the participant's own block; setting it again keeps its first time. */
export async function setBlock(trx: Tx, conversationId: string, userId: string, blocked: boolean): Promise<void> {
  await trx
    .updateTable('conversation_participants')
    .set((eb) => ({ blocked_at: blocked ? eb.fn.coalesce('blocked_at', sql<Date>`date_trunc('milliseconds', now())`) : null }))
    .where('conversation_id', '=', conversationId)
    .where('user_id', '=', userId)
    .execute();
}

/** An admin's moderation read of a thread they are not part of, recorded. */
export async function recordAdminRead(db: Db, conversationId: string, adminId: string, operation: 'getConversation' | 'listMessages'): Promise<void> {
  await db.insertInto('conversation_admin_reads').values({ conversation_id: conversationId, admin_id: adminId, operation }).execute();
}

// The batched email ---------------------------------------------------------------

/**
 * Owes the recipient a `new_messages` email about the thread, due in
 * `delaySeconds`, unless one is already pending (the partial unique index
 * notifications_one_pending_digest): the id and due time of the new row, or
 * undefined when a pending one will carry this message too.
 */
export async function queueMessageDigest(
  trx: Db | Tx,
  input: { conversationId: string; recipientId: string; delaySeconds: number },
): Promise<{ id: string; notBefore: Date } | undefined> {
  const row = await trx
    .insertInto('notifications')
    .values({
      kind: 'new_messages',
      recipient_id: input.recipientId,
      conversation_id: input.conversationId,
      not_before: sql<Date>`now() + make_interval(secs => ${input.delaySeconds})`,
    })
    .onConflict((oc) => oc.columns(['conversation_id', 'recipient_id']).where('status', '=', 'pending').where('kind', '=', 'new_messages').doNothing())
    .returning(['id', 'not_before'])
    .executeTakeFirst();
  return row ? { id: row.id, notBefore: row.not_before! } : undefined;
}

/** A notification's kind and due time, for the job to tell a digest that is not due yet. */
export async function findNotificationSchedule(db: Db, id: string) {
  return db
    .selectFrom('notifications')
    .select(['kind', 'status', 'not_before', sql<boolean>`not_before is not null and not_before > now()`.as('early')])
    .where('id', '=', id)
    .executeTakeFirst();
}

/** The most messages one email lists; it says how many more there are. */
const DIGEST_MESSAGES = 20;

/** What a `new_messages` email says: the thread, its listing, the other participant, and what the recipient has not read. */
export async function loadMessageDigest(db: Db, notificationId: string) {
  const head = await db
    .selectFrom('notifications as n')
    .innerJoin('users as recipient', 'recipient.id', 'n.recipient_id')
    .innerJoin('conversations as c', 'c.id', 'n.conversation_id')
    .innerJoin('properties as p', 'p.id', 'c.property_id')
    .innerJoin('conversation_participants as me', (join) => join.onRef('me.conversation_id', '=', 'c.id').onRef('me.user_id', '=', 'n.recipient_id'))
    .select([
      'n.id', 'n.kind', 'c.id as conversation_id', 'recipient.id as recipient_id', 'recipient.email as recipient_email',
      'recipient.name as recipient_name', 'p.name as property_name', 'p.city as property_city', 'me.last_read_at',
    ])
    .where('n.id', '=', notificationId)
    .executeTakeFirst();
  if (!head) return undefined;
  let unread = db
    .selectFrom('messages')
    .innerJoin('users as sender', 'sender.id', 'messages.sender_id')
    .where('messages.conversation_id', '=', head.conversation_id)
    .where('messages.sender_id', '<>', head.recipient_id);
  if (head.last_read_at) unread = unread.where('messages.created_at', '>', head.last_read_at);
  const messages = await unread
    .select(['messages.body', 'messages.created_at', 'sender.name as sender_name'])
    .orderBy('messages.created_at')
    .orderBy('messages.id')
    .limit(DIGEST_MESSAGES)
    .execute();
  const { total } = await unread.select(sql<number>`count(*)::int`.as('total')).executeTakeFirstOrThrow();
  return { ...head, messages, total };
}

export type MessageDigest = NonNullable<Awaited<ReturnType<typeof loadMessageDigest>>>;

/** A digest with nothing left to say (the recipient read it all first) is closed without an email. */
export async function skipNotification(db: Db, id: string): Promise<void> {
  await db.updateTable('notifications').set({ status: 'skipped', claimed_until: null, last_error: null }).where('id', '=', id).where('status', '=', 'pending').execute();
}

// Hosts' response statistics ---------------------------------------------------------

/** The raw numbers of a host's answering (handlers/conversations/rules.ts hostResponse rounds them). */
export interface HostResponseCounts {
  host_id: string;
  conversations: number;
  answered: number;
  median_seconds: number | null;
}

/**
 * Over the threads a guest started with each host in the last `days` days (the
 * guest's first message came before any of the host's): how many there were, how
 * many the host answered, and the median time from the guest's first message to
 * the host's first answer (percentile_cont over the answered ones). Hosts without
 * such threads are absent.
 */
export async function hostResponseCounts(db: Db | Tx, hostIds: readonly string[], days = 90): Promise<HostResponseCounts[]> {
  if (hostIds.length === 0) return [];
  const { rows } = await sql<HostResponseCounts>`
    with firsts as (
      select c.host_id, f.asked_at, f.answered_at
      from conversations c,
        -- One read of the thread's messages for both: as two subqueries, each was planned again
        -- wherever the outer query names its column (seven reads of the thread).
        lateral (select min(m.created_at) filter (where m.sender_id = c.guest_id) as asked_at,
            min(m.created_at) filter (where m.sender_id = c.host_id) as answered_at
          from messages m where m.conversation_id = c.id) f
      where c.host_id in (${sql.join(hostIds.map((id) => sql`${id}::uuid`))})
        -- A thread's last activity is never older than its newest message (the trigger
        -- messages_move_conversation_activity moves it forward on every insert), so a thread last
        -- active before the window has no message in it: the same answer, from a range of
        -- conversations_host_activity_idx instead of all the host's threads.
        and c.last_activity_at >= now() - make_interval(days => ${days})
    )
    select host_id::text as host_id, count(*)::int as conversations, count(answered_at)::int as answered,
      percentile_cont(0.5) within group (order by extract(epoch from answered_at - asked_at)) as median_seconds
    from firsts
    where asked_at >= now() - make_interval(days => ${days}) and (answered_at is null or answered_at > asked_at)
    group by host_id
  `.execute(db);
  return rows.map((row) => ({ ...row, median_seconds: row.median_seconds === null ? null : Number(row.median_seconds) }));
}

// History, as the demo data and tests bring it -------------------------------------

export interface ConversationHistory {
  conversation: Insertable<Conversations>;
  participants: Insertable<ConversationParticipants>[];
  /** With their own times; the thread's last activity becomes the newest one's. */
  messages: Insertable<Messages>[];
}

/** A thread written as it already stands (messages with their own times, read markers). */
export async function insertConversationHistory(trx: Tx, history: ConversationHistory): Promise<void> {
  const times = history.messages.map((m) => new Date(m.created_at as Date | string).getTime());
  const lastActivity = times.length > 0 ? new Date(Math.max(...times)) : undefined;
  await trx.insertInto('conversations').values({ ...history.conversation, ...(lastActivity ? { last_activity_at: lastActivity } : {}) }).execute();
  await trx.insertInto('conversation_participants').values(history.participants).execute();
  if (history.messages.length > 0) await trx.insertInto('messages').values(history.messages).execute();
}
