/**
 * Opaque cursors for keyset pagination: the sort key and id of the last item of a
 * page, as base64url JSON. A cursor that does not decode to the expected shape is a
 * client error (400), never a 500.
 */
import { isCalendarDate, MAX_YEAR, MIN_YEAR } from './dates.js';
import { invalidFields } from './errors.js';

export type CursorValue = string | number;

/**
 * What each position of a cursor must hold, as the column it is compared with in SQL
 * takes it: a forged cursor is a client error here rather than a failed query (a 500)
 * later. `integer` is a PostgreSQL `integer` column (a price in minor units: `1.5` or
 * `1e20` would not cast), `number` a `float8` expression (a rating, a distance),
 * `timestamp` a `timestamptz` (a real calendar date and time, within the years the
 * API's dates allow), `uuid` a `uuid`.
 */
export type CursorField = 'integer' | 'number' | 'timestamp' | 'uuid';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-](\d{2}):(\d{2}))$/;
const INT4_MAX = 2_147_483_647;

/** A timestamp PostgreSQL reads as written: JavaScript's Date.parse rolls 2027-02-30 over to March, PostgreSQL refuses it. */
function isTimestamp(value: string): boolean {
  const match = TIMESTAMP.exec(value);
  if (!match) return false;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offsetHours = match[9] === undefined ? 0 : Number(match[9]);
  const offsetMinutes = match[10] === undefined ? 0 : Number(match[10]);
  return (
    isCalendarDate(year, month, day) &&
    year >= MIN_YEAR &&
    year <= MAX_YEAR &&
    hour < 24 &&
    minute < 60 &&
    second < 60 &&
    offsetHours < 16 &&
    offsetMinutes < 60
  );
}

function holds(value: unknown, field: CursorField | undefined): boolean {
  switch (field) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= INT4_MAX;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'timestamp':
      return typeof value === 'string' && isTimestamp(value);
    case 'uuid':
      return typeof value === 'string' && UUID.test(value);
    default:
      return false;
  }
}

export function encodeCursor(values: readonly CursorValue[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, shape: readonly CursorField[]): CursorValue[] | undefined {
  if (cursor === undefined) return undefined;
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    values = undefined;
  }
  const valid = Array.isArray(values) && values.length === shape.length && values.every((value, i) => holds(value, shape[i]));
  if (!valid) {
    throw invalidFields(
      [{ path: 'query.cursor', message: 'is not a valid cursor for this list' }],
      'The cursor is not one this list gave out; start again without it.',
    );
  }
  return values as CursorValue[];
}

/** Fetch one row more than the page to learn whether another page follows. */
export function page<Row, Item>(rows: Row[], limit: number, toItem: (row: Row) => Item, cursorOf: (row: Row) => CursorValue[]) {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  const last = pageRows[pageRows.length - 1];
  return {
    data: pageRows.map(toItem),
    next_cursor: more && last !== undefined ? encodeCursor(cursorOf(last)) : null,
  };
}
