/**
 * Opaque cursors for keyset pagination: the sort key and id of the last item of a
 * page, as base64url JSON. A cursor that does not decode to the expected shape is a
 * client error (400), never a 500.
 */
import { invalidFields } from './errors.js';

export type CursorValue = string | number;

/**
 * What each position of a cursor must hold. `timestamp` and `uuid` are strings the
 * database compares as such, so a forged cursor with anything else in them is a
 * client error here rather than a failed query (a 500) later.
 */
export type CursorField = 'number' | 'timestamp' | 'uuid';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function holds(value: unknown, field: CursorField | undefined): boolean {
  switch (field) {
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'timestamp':
      return typeof value === 'string' && TIMESTAMP.test(value) && !Number.isNaN(Date.parse(value));
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
