/**
 * Calendar dates as the API carries them: 'YYYY-MM-DD' strings, compared and
 * counted in UTC so that no server's local time zone can shift a night. "Today"
 * is the current UTC date (the spec says so).
 */
const DAY_MS = 86_400_000;

/**
 * The years a date sent to the API may fall in: every `format: date` value is checked
 * against them by the request validator (server/api.ts gives Ajv `isApiDate` as its
 * `date` format), so `0000-01-01` or `9999-12-31` is a 400 before a handler sees it:
 * PostgreSQL has no year 0, and nobody books a night in 9999. The spec's introduction
 * states the range (a `pattern` on each field would turn GraphQL's CalendarDate scalar
 * into a plain String). Business limits on how far ahead a stay may be booked are
 * narrower, and live with the bookings.
 */
export const MIN_YEAR = 1900;
export const MAX_YEAR = 2199;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A calendar date `YYYY-MM-DD` within MIN_YEAR..MAX_YEAR. */
export function isApiDate(value: string): boolean {
  const match = DATE.exec(value);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  return year >= MIN_YEAR && year <= MAX_YEAR && isCalendarDate(year, month, day);
}

/** Whether year-month-day is a day of the calendar (no 30 February). */
export function isCalendarDate(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function toUtcMs(date: string): number {
  return Date.parse(`${date}T00:00:00Z`);
}

export function utcToday(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  return new Date(toUtcMs(date) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (negative when `to` is earlier): the nights of a stay. */
export function daysBetween(from: string, to: string): number {
  return Math.round((toUtcMs(to) - toUtcMs(from)) / DAY_MS);
}

/** Every night from `from` up to, not including, `to`. */
export function nightsOf(from: string, to: string): string[] {
  return Array.from({ length: Math.max(0, daysBetween(from, to)) }, (_, i) => addDays(from, i));
}
