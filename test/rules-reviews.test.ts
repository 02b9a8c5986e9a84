/**
 * handlers/reviews/rules.ts on tables of cases: the review window and what may
 * be reviewed or edited on a given day. Pure functions: no server, no database.
 */
import { describe, expect, it } from 'vitest';
import type { BookingStatus } from '../generated/client/types.gen.js';
import { reviewEditRefusal, reviewRefusal, reviewWindow } from '../handlers/reviews/rules.js';

describe('reviewWindow', () => {
  it.each([
    // check-out, window days, today -> last day, open
    ['2027-03-01', 14, '2027-03-01', '2027-03-15', true],
    ['2027-03-01', 14, '2027-03-15', '2027-03-15', true],
    ['2027-03-01', 14, '2027-03-16', '2027-03-15', false],
    ['2027-03-01', 0, '2027-03-01', '2027-03-01', true], // 0: the check-out day only
    ['2027-03-01', 0, '2027-03-02', '2027-03-01', false],
    ['2027-02-20', 14, '2027-03-06', '2027-03-06', true], // across the end of February
    ['2028-02-20', 14, '2028-03-06', '2028-03-05', false], // a leap year has one more day
    ['2026-12-25', 30, '2027-01-24', '2027-01-24', true], // across a year
  ])('check-out %s, %i days, on %s: until %s, open %s', (checkOut, days, today, lastDay, open) => {
    expect(reviewWindow(checkOut, days, today)).toEqual({ lastDay, open });
  });
});

describe('reviewRefusal', () => {
  const today = '2027-03-20';
  it.each<[string, BookingStatus, string, string | undefined, string | undefined]>([
    ['a completed stay within its window', 'completed', '2027-03-10', undefined, undefined],
    ['a completed stay on the last day of its window', 'completed', '2027-03-06', undefined, undefined],
    ['a completed stay past its window', 'completed', '2027-03-05', 'review_window_closed', 'This stay could be reviewed until 2027-03-19 (14 days after check-out).'],
    ['an upcoming stay', 'confirmed', '2027-03-25', 'invalid_state', 'Only a completed stay (paid and checked out) can be reviewed; it is confirmed and checks out on 2027-03-25.'],
    ['an unpaid stay', 'pending', '2027-03-25', 'invalid_state', 'Only a completed stay (paid and checked out) can be reviewed; this one is pending.'],
    ['a cancelled stay, even within the window', 'cancelled', '2027-03-10', 'invalid_state', 'Only a completed stay (paid and checked out) can be reviewed; this one is cancelled.'],
    ['an expired hold', 'expired', '2027-03-10', 'invalid_state', 'Only a completed stay (paid and checked out) can be reviewed; this one is expired.'],
  ])('%s', (_what, status, checkOut, code, detail) => {
    const refusal = reviewRefusal({ status, check_out: checkOut }, 14, today);
    expect(refusal?.code).toBe(code);
    expect(refusal?.message).toBe(detail);
  });
});

describe('reviewEditRefusal', () => {
  it.each([
    ['2027-03-10', 14, '2027-03-24', undefined],
    ['2027-03-10', 14, '2027-03-25', 'This review could be edited until 2027-03-24 (14 days after check-out).'],
    ['2027-03-10', 30, '2027-03-25', undefined],
  ])('check-out %s, %i days, on %s', (checkOut, days, today, detail) => {
    const refusal = reviewEditRefusal({ check_out: checkOut }, days, today);
    expect(refusal?.message).toBe(detail);
    if (detail) expect(refusal?.code).toBe('review_window_closed');
  });
});
