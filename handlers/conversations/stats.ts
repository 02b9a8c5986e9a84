/**
 * Hosts' response numbers for their profiles (getUser and its batch read for
 * GraphQL's links), computed by SQL from the messages of the last 90 days
 * (db/conversations.ts hostResponseCounts) and rounded by the rule in ./rules.ts.
 * Only hosts have them: guests' and admins' profiles leave the field out.
 */
import { hostResponseCounts } from '../../db/conversations.js';
import type { Db } from '../../db/index.js';
import type { HostResponse, UserRole } from '../../generated/client/types.gen.js';
import { hostResponse } from './rules.js';

/** Days of conversations a host's response numbers cover. */
export const HOST_RESPONSE_WINDOW_DAYS = 90;

export async function hostResponsesOf(db: Db, users: ReadonlyArray<{ id: string; role: UserRole }>): Promise<Map<string, HostResponse>> {
  const hostIds = users.filter((user) => user.role === 'host').map((user) => user.id);
  const counts = new Map((await hostResponseCounts(db, hostIds, HOST_RESPONSE_WINDOW_DAYS)).map((row) => [row.host_id, row]));
  return new Map(hostIds.map((id) => [id, hostResponse(counts.get(id))]));
}
