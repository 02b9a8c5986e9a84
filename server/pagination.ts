/**
 * Opaque cursors for keyset pagination: the sort key and id of the last item of a
 * page, as base64url JSON. A cursor that does not decode to the expected shape is a
 * client error (400), never a 500.
 */
import { ApiError } from './errors.js';

export type CursorValue = string | number;

export function encodeCursor(values: readonly CursorValue[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, shape: readonly ('string' | 'number')[]): CursorValue[] | undefined {
  if (cursor === undefined) return undefined;
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    values = undefined;
  }
  const valid =
    Array.isArray(values) &&
    values.length === shape.length &&
    values.every((value, i) => typeof value === shape[i] && (typeof value !== 'number' || Number.isFinite(value)));
  if (!valid) {
    throw new ApiError('validation_failed', 'The cursor is not one this list gave out; start again without it.', [
      { path: 'query.cursor', message: 'is not a valid cursor for this list' },
    ]);
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
