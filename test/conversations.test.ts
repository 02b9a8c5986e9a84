/**
 * Conversations: every rule with its success and its refusals (status and
 * code), through the generated client against a real PostgreSQL and Redis,
 * with what the database holds afterwards; unread counts under concurrent
 * sends from both sides; the batched email through the outbox; hosts'
 * response numbers on a history written with chosen times; a nested GraphQL
 * read; the live event a message publishes.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from '../generated/client/sdk.gen.js';
import type { Conversation, Property } from '../generated/client/types.gen.js';
import { graphqlRequest } from '../scripts/walk-graphql.js';
import { insertMessage, lockConversation, queueMessageDigest } from '../db/conversations.js';
import type { LiveEvent } from '../server/events.js';
import type { JobContext, JobRequest } from '../server/jobs/job.js';
import { runMessageDigest } from '../server/jobs/send-message-digest.js';
import type { Mailer } from '../server/mail.js';
import { createAdmin, createBooking, createHost, createProperty, createUser, expectData, type Account } from './support/factories.js';
import { expectProblem } from './support/problems.js';
import { embedded, eventually, type TestServer } from './support/server.js';
import { useTestApp } from './support/app.js';

const { env, server } = useTestApp();
let admin: Account;

beforeAll(async () => {
  admin = await createAdmin(server);
});

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

interface Thread {
  guest: Account;
  host: Account;
  property: Property;
  conversation: Conversation;
}

/** A guest's new thread with a new host about a new listing, started with `text`. */
async function newThread(text = 'Hello! Is the flat quiet at night?', on: TestServer = server): Promise<Thread> {
  const host = await createHost(on.client);
  const property = await createProperty(on.client, host);
  const guest = await createUser(on.client);
  const started = await api.startConversation({ client: on.client, auth: guest.token, body: { property_id: property.id, body: text } });
  expect(started.response.status).toBe(201);
  return { guest, host, property, conversation: started.data! };
}

function send(thread: Thread, who: Account, text: string, headers?: Record<string, string>, on: TestServer = server) {
  return api.sendMessage({ client: on.client, auth: who.token, path: { conversation_id: thread.conversation.id }, body: { body: text }, ...(headers ? { headers } : {}) });
}

function get(thread: Thread, who: Account) {
  return api.getConversation({ client: server.client, auth: who.token, path: { conversation_id: thread.conversation.id } });
}

async function unreadOf(thread: Thread, who: Account): Promise<number> {
  return expectData('getConversation', await get(thread, who)).unread_count;
}

function messageRows(conversationId: string) {
  return server.deps.db.selectFrom('messages').selectAll().where('conversation_id', '=', conversationId).orderBy('created_at').execute();
}

function adminReads(conversationId: string) {
  return server.deps.db.selectFrom('conversation_admin_reads').selectAll().where('conversation_id', '=', conversationId).orderBy('created_at').execute();
}

function digestRows(conversationId: string, on: TestServer = server) {
  return on.deps.db.selectFrom('notifications').selectAll().where('conversation_id', '=', conversationId).execute();
}

describe('startConversation', () => {
  it('makes the one thread of a guest and listing with its first message (201), then appends to it (200)', async () => {
    const { guest, host, property, conversation } = await newThread('Is there a lift?');
    expect(conversation).toMatchObject({
      property_id: property.id,
      guest_id: guest.id,
      host_id: host.id,
      booking_id: null,
      unread_count: 0,
      blocked_by: [],
      last_message: { sender_id: guest.id, body: 'Is there a lift?', conversation_id: conversation.id },
    });
    const again = await api.startConversation({ client: server.client, auth: guest.token, body: { property_id: property.id, body: 'And parking?' } });
    expect(again.response.status).toBe(200);
    expect(again.data).toMatchObject({ id: conversation.id, last_message: { body: 'And parking?' } });
    const rows = await server.deps.db.selectFrom('conversations').selectAll().where('guest_id', '=', guest.id).execute();
    expect(rows).toHaveLength(1);
    expect((await messageRows(conversation.id)).map((m) => m.body)).toEqual(['Is there a lift?', 'And parking?']);
    const participants = await server.deps.db.selectFrom('conversation_participants').select(['user_id', 'role']).where('conversation_id', '=', conversation.id).orderBy('role').execute();
    expect(participants).toEqual([{ user_id: guest.id, role: 'guest' }, { user_id: host.id, role: 'host' }]);
  });

  it('refuses the listing\'s own host with 422 own_listing, and writes nothing', async () => {
    const host = await createHost(server.client);
    const property = await createProperty(server.client, host);
    const result = await api.startConversation({ client: server.client, auth: host.token, body: { property_id: property.id, body: 'Me?' } });
    expectProblem(result, 422, 'own_listing');
    expect(await server.deps.db.selectFrom('conversations').select('id').where('property_id', '=', property.id).execute()).toEqual([]);
  });

  it('answers 404 for an unknown or withdrawn listing', async () => {
    const guest = await createUser(server.client);
    expectProblem(await api.startConversation({ client: server.client, auth: guest.token, body: { property_id: UNKNOWN_ID, body: 'Hi' } }), 404, 'not_found');
    const property = await createProperty(server.client);
    expect((await api.deleteProperty({ client: server.client, auth: property.host.token, path: { property_id: property.id } })).response.status).toBe(204);
    expectProblem(await api.startConversation({ client: server.client, auth: guest.token, body: { property_id: property.id, body: 'Hi' } }), 404, 'not_found');
  });

  it.each([
    ['a blank text', '  \n '],
    ['an empty text', ''],
    ['a control character', 'Hello\u0007there'],
    ['a carriage return', 'Hello\rthere'],
    ['more than 4000 characters', 'x'.repeat(4001)],
  ])('refuses %s with 400 validation_failed naming body.body', async (_name, text) => {
    const property = await createProperty(server.client);
    const guest = await createUser(server.client);
    expectProblem(await api.startConversation({ client: server.client, auth: guest.token, body: { property_id: property.id, body: text } }), 400, 'validation_failed', 'body.body');
  });

  it('takes 4000 characters with newlines and tabs', async () => {
    const text = `Line one\n\tindented${'y'.repeat(4000 - 18)}`;
    const { conversation } = await newThread(text);
    expect(conversation.last_message?.body).toBe(text);
  });
});

describe('the database keeps the message rules', () => {
  it('refuses a control character or a blank text written past the API (messages_body_check)', async () => {
    const { guest, conversation } = await newThread();
    for (const body of ['bell\u0007', '   ', 'x'.repeat(4001)]) {
      await expect(
        server.deps.db.insertInto('messages').values({ conversation_id: conversation.id, sender_id: guest.id, body }).execute(),
      ).rejects.toThrow(/messages_body_check/);
    }
  });

  it('refuses a thread with oneself (conversations_parties_check)', async () => {
    const property = await createProperty(server.client);
    await expect(
      server.deps.db.insertInto('conversations').values({ property_id: property.id, guest_id: property.host.id, host_id: property.host.id }).execute(),
    ).rejects.toThrow(/conversations_parties_check/);
  });
});

describe('createBooking', () => {
  it('makes the guest\'s thread linked to the booking, which a later question joins', async () => {
    const booking = await createBooking(server.client);
    const threads = expectData('listConversations', await api.listConversations({ client: server.client, auth: booking.guest.token }));
    expect(threads.data).toHaveLength(1);
    expect(threads.data[0]).toMatchObject({ booking_id: booking.id, property_id: booking.property_id, last_message: null, unread_count: 0 });
    const asked = await api.startConversation({ client: server.client, auth: booking.guest.token, body: { property_id: booking.property_id, body: 'What time is check-in?' } });
    expect(asked.response.status).toBe(200);
    expect(asked.data).toMatchObject({ id: threads.data[0]!.id, booking_id: booking.id });
  });
});

describe('getConversation', () => {
  it('shows the thread to its guest and host, and to no one else (404)', async () => {
    const thread = await newThread();
    expect((await get(thread, thread.guest)).response.status).toBe(200);
    expect(await unreadOf(thread, thread.host)).toBe(1);
    const stranger = await createUser(server.client);
    expectProblem(await get(thread, stranger), 404, 'not_found');
    const otherHost = await createHost(server.client);
    expectProblem(await get(thread, otherHost), 404, 'not_found');
    expectProblem(await api.getConversation({ client: server.client, auth: thread.guest.token, path: { conversation_id: UNKNOWN_ID } }), 404, 'not_found');
    expect(await adminReads(thread.conversation.id)).toEqual([]);
  });

  it('lets an admin read it for moderation, and records each read', async () => {
    const thread = await newThread();
    const read = expectData('getConversation', await get(thread, admin));
    expect(read).toMatchObject({ id: thread.conversation.id, unread_count: 0, last_read_at: null });
    expect((await api.listMessages({ client: server.client, auth: admin.token, path: { conversation_id: thread.conversation.id } })).response.status).toBe(200);
    const rows = await adminReads(thread.conversation.id);
    expect(rows.map((row) => [row.admin_id, row.operation])).toEqual([[admin.id, 'getConversation'], [admin.id, 'listMessages']]);
  });

  it('is private: Cache-Control no-store', async () => {
    const thread = await newThread();
    expect((await get(thread, thread.guest)).response.headers.get('cache-control')).toBe('no-store');
  });
});

describe('listMessages', () => {
  it('pages newest first with a cursor, for participants only', async () => {
    const thread = await newThread('m0');
    for (let i = 1; i < 5; i++) expect((await send(thread, i % 2 ? thread.host : thread.guest, `m${i}`)).response.status).toBe(201);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = expectData('listMessages', await api.listMessages({ client: server.client, auth: thread.host.token, path: { conversation_id: thread.conversation.id }, query: { limit: 2, ...(cursor ? { cursor } : {}) } }));
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((m) => m.body));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['m4', 'm3', 'm2', 'm1', 'm0']);
    const stranger = await createUser(server.client);
    expectProblem(await api.listMessages({ client: server.client, auth: stranger.token, path: { conversation_id: thread.conversation.id } }), 404, 'not_found');
  });
});

describe('sendMessage', () => {
  it('appends the message, moves the thread up the lists and the other side\'s unread count', async () => {
    const older = await newThread();
    const thread = await newThread();
    const reply = await send(thread, thread.host, 'Yes, very quiet.');
    expect(reply.response.status).toBe(201);
    expect(reply.data).toMatchObject({ conversation_id: thread.conversation.id, sender_id: thread.host.id, body: 'Yes, very quiet.' });
    expect(await unreadOf(thread, thread.guest)).toBe(1);
    expect(await unreadOf(thread, thread.host)).toBe(1);
    expect((await messageRows(thread.conversation.id)).map((m) => m.sender_id)).toEqual([thread.guest.id, thread.host.id]);
    // The host of both threads? No: each has its own host; the guest of `older` sees only theirs.
    const list = expectData('listConversations', await api.listConversations({ client: server.client, auth: older.guest.token }));
    expect(list.data.map((c) => c.id)).toEqual([older.conversation.id]);
  });

  it('refuses an admin (403) and a stranger (404), and writes nothing', async () => {
    const thread = await newThread();
    expectProblem(await send(thread, admin, 'Moderator here.'), 403, 'forbidden');
    expectProblem(await send(thread, await createUser(server.client), 'Hi'), 404, 'not_found');
    expect(await messageRows(thread.conversation.id)).toHaveLength(1);
  });

  it('does the work once for a retried Idempotency-Key, and refuses the key with another body', async () => {
    const thread = await newThread();
    const key = randomUUID();
    const first = await send(thread, thread.host, 'Welcome!', { 'Idempotency-Key': key });
    const replay = await send(thread, thread.host, 'Welcome!', { 'Idempotency-Key': key });
    expect(replay.response.status).toBe(201);
    expect(replay.response.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.data!.id).toBe(first.data!.id);
    expect(await messageRows(thread.conversation.id)).toHaveLength(2);
    expectProblem(await send(thread, thread.host, 'Something else', { 'Idempotency-Key': key }), 409, 'idempotency_key_reused');
    expect(await unreadOf(thread, thread.guest)).toBe(1);
  });
});

describe('markConversationRead', () => {
  it('zeroes the caller\'s unread count until the next message', async () => {
    const thread = await newThread('one');
    await send(thread, thread.guest, 'two');
    expect(await unreadOf(thread, thread.host)).toBe(2);
    const read = expectData('markConversationRead', await api.markConversationRead({ client: server.client, auth: thread.host.token, path: { conversation_id: thread.conversation.id } }));
    expect(read).toMatchObject({ conversation_id: thread.conversation.id, user_id: thread.host.id, unread_count: 0 });
    expect(await unreadOf(thread, thread.host)).toBe(0);
    const marker = await server.deps.db.selectFrom('conversation_participants').select('last_read_at').where('conversation_id', '=', thread.conversation.id).where('user_id', '=', thread.host.id).executeTakeFirstOrThrow();
    expect(marker.last_read_at?.toISOString()).toBe(read.last_read_at);
    await send(thread, thread.guest, 'three');
    expect(await unreadOf(thread, thread.host)).toBe(1);
    expectProblem(await api.markConversationRead({ client: server.client, auth: admin.token, path: { conversation_id: thread.conversation.id } }), 403, 'forbidden');
  });
});

describe('blockConversation and unblockConversation', () => {
  it('stop messages both ways until the blocker unblocks', async () => {
    const thread = await newThread();
    const blocked = expectData('blockConversation', await api.blockConversation({ client: server.client, auth: thread.guest.token, path: { conversation_id: thread.conversation.id } }));
    expect(blocked.blocked_by).toEqual([thread.guest.id]);
    expectProblem(await send(thread, thread.host, 'Please reply'), 403, 'conversation_blocked');
    expectProblem(await send(thread, thread.guest, 'Oops'), 403, 'conversation_blocked');
    expectProblem(await api.startConversation({ client: server.client, auth: thread.guest.token, body: { property_id: thread.property.id, body: 'Hi again' } }), 403, 'conversation_blocked');
    expect(await messageRows(thread.conversation.id)).toHaveLength(1);
    // The host's own block stays when the guest lifts theirs.
    await api.blockConversation({ client: server.client, auth: thread.host.token, path: { conversation_id: thread.conversation.id } });
    const lifted = expectData('unblockConversation', await api.unblockConversation({ client: server.client, auth: thread.guest.token, path: { conversation_id: thread.conversation.id } }));
    expect(lifted.blocked_by).toEqual([thread.host.id]);
    expectProblem(await send(thread, thread.guest, 'Still?'), 403, 'conversation_blocked');
    await api.unblockConversation({ client: server.client, auth: thread.host.token, path: { conversation_id: thread.conversation.id } });
    expect((await send(thread, thread.guest, 'Thanks')).response.status).toBe(201);
    const rows = await server.deps.db.selectFrom('conversation_participants').select('blocked_at').where('conversation_id', '=', thread.conversation.id).execute();
    expect(rows.every((row) => row.blocked_at === null)).toBe(true);
  });

  it('refuses strangers (404) and admins (403)', async () => {
    const thread = await newThread();
    expectProblem(await api.blockConversation({ client: server.client, auth: (await createUser(server.client)).token, path: { conversation_id: thread.conversation.id } }), 404, 'not_found');
    expectProblem(await api.blockConversation({ client: server.client, auth: admin.token, path: { conversation_id: thread.conversation.id } }), 403, 'forbidden');
  });
});

describe('unread counts under concurrency', () => {
  it('are exact after concurrent sends from both sides and concurrent marks', async () => {
    const thread = await newThread('start');
    await api.markConversationRead({ client: server.client, auth: thread.host.token, path: { conversation_id: thread.conversation.id } });
    // A second server process on the same database (on PGlite each server has its own in-memory one: this one then).
    const second = embedded ? server : await env.start();
    const n = 15;
    const sends = Array.from({ length: n }, (_, i) => [
      send(thread, thread.guest, `guest ${i}`, undefined, i % 2 ? second : server),
      send(thread, thread.host, `host ${i}`, undefined, i % 2 ? server : second),
    ]).flat();
    const statuses = (await Promise.all(sends)).map((r) => r.response.status);
    expect(statuses.every((s) => s === 201)).toBe(true);
    expect(await unreadOf(thread, thread.guest)).toBe(n);
    expect(await unreadOf(thread, thread.host)).toBe(n);

    // Marks racing sends: whatever the order, the count afterwards is the messages after the marker the mark returned.
    const racing = await Promise.all([
      api.markConversationRead({ client: server.client, auth: thread.host.token, path: { conversation_id: thread.conversation.id } }),
      ...Array.from({ length: 6 }, (_, i) => send(thread, thread.guest, `late ${i}`, undefined, i % 2 ? second : server)),
    ]);
    const marker = racing[0]!.data!.last_read_at;
    const later = (await messageRows(thread.conversation.id)).filter((m) => m.sender_id === thread.guest.id && m.created_at.toISOString() > marker);
    expect(await unreadOf(thread, thread.host)).toBe(later.length);
    // Every message of the thread has its own time, in the order they committed.
    const times = (await messageRows(thread.conversation.id)).map((m) => m.created_at.getTime());
    expect(new Set(times).size).toBe(times.length);
  });
});

describe('the new_messages email', () => {
  it('batches a burst into one email listing every unread message', async () => {
    const mailer = await env.start({ messageEmailDelaySeconds: 2 });
    const thread = await newThread('first', mailer);
    for (let i = 2; i <= 5; i++) expect((await send(thread, thread.guest, `message ${i}`, undefined, mailer)).response.status).toBe(201);
    const rows = await digestRows(thread.conversation.id, mailer);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: 'new_messages', recipient_id: thread.host.id, status: 'pending', booking_id: null });
    const file = path.join(env.outboxDir, `new_messages-${rows[0]!.id}.eml`);
    expect(existsSync(file)).toBe(false);
    await eventually(async () => {
      const [row] = await digestRows(thread.conversation.id, mailer);
      expect(row!.status).toBe('sent');
    }, 15_000);
    const email = await readFile(file, 'utf8');
    for (const text of ['first', 'message 2', 'message 3', 'message 4', 'message 5']) expect(email).toContain(text);
    expect(email).toContain('5 new messages');
    // The next message opens a new window.
    await send(thread, thread.guest, 'one more', undefined, mailer);
    expect((await digestRows(thread.conversation.id, mailer)).map((r) => r.status).sort()).toEqual(['pending', 'sent']);
  });

  it('is skipped when the recipient read everything before it was due', async () => {
    const mailer = await env.start({ messageEmailDelaySeconds: 1 });
    const thread = await newThread('read me', mailer);
    await api.markConversationRead({ client: mailer.client, auth: thread.host.token, path: { conversation_id: thread.conversation.id } });
    await eventually(async () => {
      const [row] = await digestRows(thread.conversation.id, mailer);
      expect(row!.status).toBe('skipped');
    }, 15_000);
    const [row] = await digestRows(thread.conversation.id, mailer);
    expect(existsSync(path.join(env.outboxDir, `new_messages-${row!.id}.eml`))).toBe(false);
  });
});

describe('the new_messages job', () => {
  it('opens the next window for a message that arrived while the email was being sent', async () => {
    const thread = await newThread('before');
    const db = server.deps.db;
    const [digest] = await digestRows(thread.conversation.id);
    await db.updateTable('notifications').set({ not_before: new Date(Date.now() - 1000) }).where('id', '=', digest!.id).execute();
    const sentTexts: string[] = [];
    const enqueued: JobRequest[] = [];
    // The mailer of this run: while "sending", the guest writes again (as their request would, joining the pending row).
    const mailer: Mailer = {
      kind: 'outbox',
      async send(message) {
        sentTexts.push(message.text);
        await db.transaction().execute(async (trx) => {
          await lockConversation(trx, thread.conversation.id);
          await insertMessage(trx, { conversationId: thread.conversation.id, senderId: thread.guest.id, body: 'during' });
          expect(await queueMessageDigest(trx, { conversationId: thread.conversation.id, recipientId: thread.host.id, delaySeconds: 600 })).toBeUndefined();
        });
      },
      close() {},
    };
    const ctx: JobContext = { db, config: server.deps.config, provider: server.deps.payments, bookingChanged: async () => {}, mailer, enqueue: async (jobs) => void enqueued.push(...jobs), log: () => {} };
    expect(await runMessageDigest(ctx, digest!.id, false)).toBe(true);
    expect(sentTexts).toHaveLength(1);
    expect(sentTexts[0]).toContain('before');
    expect(sentTexts[0]).not.toContain('during');
    const rows = await digestRows(thread.conversation.id);
    expect(rows.map((row) => row.status).sort()).toEqual(['pending', 'sent']);
    const next = rows.find((row) => row.status === 'pending')!;
    expect(enqueued).toEqual([{ name: 'send-notification', id: next.id, notBefore: next.not_before }]);
  });
});

describe('hosts\' response numbers on getUser', () => {
  it('count the guest-started threads of the last 90 days, the share answered and the median first answer', async () => {
    const host = await createHost(server.client);
    const db = server.deps.db;
    const minutes = (m: number) => m * 60_000;
    const now = Date.now();
    // [days ago the guest asked, minutes until the host's first answer (null: never), host wrote first]
    const history: Array<[number, number | null, boolean]> = [
      [2, 10, false],
      [10, 30, false],
      [20, 50, false],
      [30, null, false],
      [100, 5, false], // outside the window
      [5, 1, true], // the host started it: not a guest's question
    ];
    for (const [daysAgo, answerAfter, hostFirst] of history) {
      const property = await createProperty(server.client, host);
      const guest = await createUser(server.client);
      const asked = new Date(now - daysAgo * 86_400_000);
      const conversation = await db
        .insertInto('conversations')
        .values({ property_id: property.id, guest_id: guest.id, host_id: host.id, created_at: asked })
        .returning('id')
        .executeTakeFirstOrThrow();
      const messages = [{ conversation_id: conversation.id, sender_id: guest.id, body: 'Question', created_at: asked }];
      if (answerAfter !== null) messages.push({ conversation_id: conversation.id, sender_id: host.id, body: 'Answer', created_at: new Date(asked.getTime() + minutes(answerAfter)) });
      if (hostFirst) messages.push({ conversation_id: conversation.id, sender_id: host.id, body: 'Hello first', created_at: new Date(asked.getTime() - minutes(60)) });
      await db.insertInto('messages').values(messages).execute();
    }
    const profile = expectData('getUser', await api.getUser({ client: server.client, path: { user_id: host.id } }));
    // 4 guest-started threads in the window, 3 answered (75%), answers after 10, 30 and 50 minutes: median 30.
    expect(profile.host_response).toEqual({ conversations: 4, response_rate: 75, median_response_minutes: 30 });

    const fresh = await createHost(server.client);
    expect(expectData('getUser', await api.getUser({ client: server.client, path: { user_id: fresh.id } })).host_response).toBeNull();
    const guest = await createUser(server.client);
    expect(expectData('getUser', await api.getUser({ client: server.client, path: { user_id: guest.id } }))).not.toHaveProperty('host_response');
    // Computed, never stored: the same numbers straight from SQL.
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from conversations where host_id = ${host.id}`.execute(db);
    expect(rows[0]!.n).toBe(6);
  });

  it('move with a host\'s first reply, through the read cache', async () => {
    const cached = await env.start({ cache: true });
    const thread = await newThread('Anyone there?', cached);
    const before = expectData('getUser', await api.getUser({ client: cached.client, path: { user_id: thread.host.id } }));
    expect(before.host_response).toMatchObject({ conversations: 1, response_rate: 0, median_response_minutes: null });
    await send(thread, thread.host, 'Yes!', undefined, cached);
    const after = expectData('getUser', await api.getUser({ client: cached.client, path: { user_id: thread.host.id } }));
    expect(after.host_response).toMatchObject({ conversations: 1, response_rate: 100, median_response_minutes: 0 });
  });
});

describe('GraphQL', () => {
  it('follows a conversation\'s links to its listing, host and guest', async () => {
    const thread = await newThread();
    const reply = await graphqlRequest<{ getConversation: { id: string; unread_count: number; property: { name: string }; host: { id: string; host_response: { conversations: number } | null }; guest: { id: string } } }>(
      server.url,
      'query ($id: UUID!) { getConversation(conversation_id: $id) { id unread_count property { name } host { id host_response { conversations } } guest { id } } }',
      { id: thread.conversation.id },
      thread.host.token,
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.getConversation).toEqual({
      id: thread.conversation.id,
      unread_count: 1,
      property: { name: thread.property.name },
      host: { id: thread.host.id, host_response: { conversations: 1 } },
      guest: { id: thread.guest.id },
    });
  });

  it('answers booking: null, without an error, for a thread no booking has made', async () => {
    const thread = await newThread();
    const reply = await graphqlRequest<{ getConversation: { booking_id: string | null; booking: { id: string } | null } }>(
      server.url,
      'query ($id: UUID!) { getConversation(conversation_id: $id) { booking_id booking { id } } }',
      { id: thread.conversation.id },
      thread.guest.token,
    );
    expect(reply.errors).toBeUndefined();
    expect(reply.data!.getConversation).toEqual({ booking_id: null, booking: null });
  });
});

describe('live events', () => {
  it('tell both participants of a new message and the other of a read', async () => {
    const thread = await newThread();
    const hostEvents: LiveEvent[] = [];
    const guestEvents: LiveEvent[] = [];
    const stopHost = await server.deps.events.subscribe(thread.host.id, (event) => hostEvents.push(event));
    const stopGuest = await server.deps.events.subscribe(thread.guest.id, (event) => guestEvents.push(event));
    try {
      const sent = expectData('sendMessage', await send(thread, thread.guest, 'Live?'));
      await api.markConversationRead({ client: server.client, auth: thread.host.token, path: { conversation_id: thread.conversation.id } });
      await eventually(async () => {
        expect(hostEvents.map((e) => e.type)).toEqual(['message.created', 'conversation.read']);
        expect(guestEvents.map((e) => e.type)).toEqual(['message.created', 'conversation.read']);
      });
      expect(hostEvents[0]!.data).toEqual(sent);
      expect(guestEvents[1]!.data).toMatchObject({ conversation_id: thread.conversation.id, user_id: thread.host.id, unread_count: 0 });
    } finally {
      stopHost();
      stopGuest();
    }
  });
});
