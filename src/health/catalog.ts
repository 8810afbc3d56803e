import {
  connections,
  idleInTransaction,
  longRunningQueries,
  longTransactions,
  preparedTransactions,
} from './checks/activity.js';
import {
  duplicateIndexes,
  invalidIndexes,
  missingIndexes,
  unindexedForeignKeys,
  unusedIndexes,
} from './checks/indexes.js';
import { blockingChains, ungrantedLocks } from './checks/locks.js';
import { postgrestGrants, rlsDisabled } from './checks/postgrest.js';
import { checkpoints, inactiveReplicationSlots, replicaLag } from './checks/replication.js';
import { slowQueries } from './checks/statements.js';
import {
  autovacuumLag,
  cacheHitRatio,
  databaseSize,
  deadTuples,
  largestTables,
  sequenceExhaustion,
  statsReset,
  xidWraparound,
} from './checks/storage.js';
import { disabledTriggers, duplicateTriggers } from './checks/triggers.js';
import type { CheckDefinition } from './types.js';

/** Every built-in health check, in report order: sessions first, then storage, schema, replication. */
export const HEALTH_CHECKS: readonly CheckDefinition[] = [
  connections,
  idleInTransaction,
  longRunningQueries,
  longTransactions,
  blockingChains,
  ungrantedLocks,
  preparedTransactions,
  slowQueries,
  cacheHitRatio,
  databaseSize,
  largestTables,
  deadTuples,
  autovacuumLag,
  xidWraparound,
  sequenceExhaustion,
  unusedIndexes,
  duplicateIndexes,
  invalidIndexes,
  missingIndexes,
  unindexedForeignKeys,
  duplicateTriggers,
  disabledTriggers,
  inactiveReplicationSlots,
  replicaLag,
  checkpoints,
  statsReset,
  postgrestGrants,
  rlsDisabled,
];

/**
 * The checks that read something per table, sequence or file, costliest first (server CPU of
 * each alone on 50,000 tables, `BENCH_EACH=1 npm run bench:catalog`: sequence_exhaustion
 * 540-640 ms, database_size 420-530, autovacuum_lag and largest_tables about 200 each,
 * dead_tuples and missing_indexes 70-90; every other check 20 ms or less). The engine's
 * second connection starts these while the first keeps report order, so that on a big
 * catalog they overlap the quick checks instead of following them.
 */
export const SLOWEST_ON_BIG_CATALOGS: readonly string[] = [
  'sequence_exhaustion',
  'database_size',
  'autovacuum_lag',
  'largest_tables',
  'dead_tuples',
  'missing_indexes',
];

export function checkIds(): string[] {
  return HEALTH_CHECKS.map((check) => check.id);
}
