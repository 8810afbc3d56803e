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

export function checkIds(): string[] {
  return HEALTH_CHECKS.map((check) => check.id);
}
