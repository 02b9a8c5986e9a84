/**
 * handlers/conversations/rules.ts on tables of cases: what a message's text may
 * be (the same answer as the spec's pattern, which refuses it with 400 before
 * any handler runs, and the database's messages_body_check), who starts a thread,
 * when a thread takes no message, and how a host's response numbers are rounded.
 * Pure functions: no server, no database.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { hostResponse, MESSAGE_MAX_LENGTH, messageTextProblem, sendRefusal, startRefusal } from '../handlers/conversations/rules.js';

const spec = parse(readFileSync(new URL('../spec/openapi.yaml', import.meta.url), 'utf8'));
const bodySchema = spec.components.schemas.MessageInput.properties.body as { pattern: string; minLength: number; maxLength: number };
/** What the spec accepts (Ajv counts characters as code points, as [...text] does). */
const specAccepts = (text: string) =>
  new RegExp(bodySchema.pattern, 'u').test(text) && [...text].length >= bodySchema.minLength && [...text].length <= bodySchema.maxLength;

describe('messageTextProblem', () => {
  it.each<[string, string, string | undefined]>([
    ['a question', 'Is there a lift?', undefined],
    ['lines and tabs', 'Line one\n\tLine two', undefined],
    ['leading spaces', '   hello', undefined],
    ['an emoji', 'See you 🙂', undefined],
    ['exactly the longest', 'x'.repeat(MESSAGE_MAX_LENGTH), undefined],
    ['the longest in astral characters', '🙂'.repeat(MESSAGE_MAX_LENGTH), undefined],
    ['empty', '', 'must not be blank'],
    ['only whitespace', ' \n\t ', 'must not be blank'],
    ['one too long', 'x'.repeat(MESSAGE_MAX_LENGTH + 1), 'must be at most 4000 characters'],
    ['a bell', 'ring\u0007', 'must not contain control characters other than tab and newline'],
    ['a carriage return', 'a\r\nb', 'must not contain control characters other than tab and newline'],
    ['an escape sequence', 'a\u001b[31mred', 'must not contain control characters other than tab and newline'],
    ['a DEL', 'a\u007f', 'must not contain control characters other than tab and newline'],
  ])('%s: %s', (_name, text, problem) => {
    expect(messageTextProblem(text)).toBe(problem);
    // The spec's pattern says the same, so the API refuses what the rule refuses.
    expect(specAccepts(text)).toBe(problem === undefined);
  });
});

describe('startRefusal', () => {
  it.each([
    ['a guest', 'guest-1', undefined],
    ['the listing\'s host', 'host-1', 'own_listing'],
  ])('%s', (_name, caller, code) => {
    expect(startRefusal({ host_id: 'host-1' }, caller)?.code).toBe(code);
  });
});

describe('sendRefusal', () => {
  it.each<[boolean, boolean, string | undefined, RegExp | undefined]>([
    [false, false, undefined, undefined],
    [true, true, 'conversation_blocked', /You have blocked/],
    [true, false, 'conversation_blocked', /A participant has blocked/],
  ])('blocked %s, by the caller %s', (blocked, callerBlocks, code, detail) => {
    const refusal = sendRefusal(blocked, callerBlocks);
    expect(refusal?.code).toBe(code);
    if (detail) expect(refusal?.message).toMatch(detail);
  });
});

describe('hostResponse', () => {
  it.each([
    ['no threads', undefined, null],
    ['none counted', { conversations: 0, answered: 0, median_seconds: null }, null],
    ['none answered', { conversations: 3, answered: 0, median_seconds: null }, { conversations: 3, response_rate: 0, median_response_minutes: null }],
    ['all answered', { conversations: 2, answered: 2, median_seconds: 600 }, { conversations: 2, response_rate: 100, median_response_minutes: 10 }],
    ['two of three, rounded', { conversations: 3, answered: 2, median_seconds: 89 }, { conversations: 3, response_rate: 67, median_response_minutes: 1 }],
    ['one of three, half a minute rounds up', { conversations: 3, answered: 1, median_seconds: 30 }, { conversations: 3, response_rate: 33, median_response_minutes: 1 }],
    ['under half a minute', { conversations: 1, answered: 1, median_seconds: 29 }, { conversations: 1, response_rate: 100, median_response_minutes: 0 }],
  ])('%s', (_name, counts, expected) => {
    expect(hostResponse(counts)).toEqual(expected);
  });
});
