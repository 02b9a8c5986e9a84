/**
 * The review window, as plain functions of their inputs: a stay can be reviewed,
 * and its review edited, from check-out until `windowDays` days after it
 * (REVIEW_WINDOW_DAYS; 0 is the check-out day only). "Today" is the UTC date of
 * the database's clock, which the queries hand over, so every process agrees.
 */
import { addDays } from '../../server/dates.js';
import { ApiError } from '../../server/errors.js';
import type { BookingStatus } from '../../generated/client/types.gen.js';

export interface ReviewWindow {
  /** The last day a review can be written or edited: check-out plus the window's days. */
  lastDay: string;
  open: boolean;
}

export function reviewWindow(checkOut: string, windowDays: number, today: string): ReviewWindow {
  const lastDay = addDays(checkOut, windowDays);
  return { lastDay, open: today <= lastDay };
}

function windowClosed(what: string, window: ReviewWindow, windowDays: number): ApiError {
  return new ApiError('review_window_closed', `This ${what} until ${window.lastDay} (${windowDays} days after check-out).`);
}

/** Why this stay cannot be reviewed today, or undefined when it can: only a completed stay (paid, checked out, not cancelled) within its window. */
export function reviewRefusal(booking: { status: BookingStatus; check_out: string }, windowDays: number, today: string): ApiError | undefined {
  if (booking.status !== 'completed') {
    const now = booking.status === 'confirmed' ? `it is confirmed and checks out on ${booking.check_out}` : `this one is ${booking.status}`;
    return new ApiError('invalid_state', `Only a completed stay (paid and checked out) can be reviewed; ${now}.`);
  }
  const window = reviewWindow(booking.check_out, windowDays, today);
  return window.open ? undefined : windowClosed('stay could be reviewed', window, windowDays);
}

/** Why this review cannot be edited today, or undefined when it can: only within its stay's window. */
export function reviewEditRefusal(stay: { check_out: string }, windowDays: number, today: string): ApiError | undefined {
  const window = reviewWindow(stay.check_out, windowDays, today);
  return window.open ? undefined : windowClosed('review could be edited', window, windowDays);
}
