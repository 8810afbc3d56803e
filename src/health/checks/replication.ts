import { plural } from '../../text.js';
import { levelAbove, num, operatorsOf, topRows } from '../checkKit.js';
import type { CheckDefinition, EvidenceRow } from '../types.js';
import { formatBytes, formatSeconds } from '../units.js';

export const inactiveReplicationSlots: CheckDefinition = {
  id: 'inactive_replication_slots',
  title: 'Inactive replication slots',
  description:
    'Replication slots with no consumer connected: they retain WAL (and hold back vacuum) until the disk fills.',
  thresholds: [
    {
      key: 'critical',
      unit: 'bytes',
      default: 5 * 1024 ** 3,
      description: 'WAL retained by an inactive slot',
    },
  ],
  remediation: {
    procedure: 'postgres-health#drop-replication-slot',
    text: 'Reconnect the consumer, or drop the slot (pg_drop_replication_slot) if it is gone for good: irreversible for that consumer.',
  },
  async run(ctx) {
    const lsn = ctx.server.inRecovery ? 'pg_last_wal_receive_lsn()' : 'pg_current_wal_lsn()';
    const { evidence, total } = await topRows(
      ctx,
      `SELECT slot_name, slot_type, database, coalesce(pg_wal_lsn_diff(${lsn}, restart_lsn), 0)::float8 AS retained_bytes,
              count(*) OVER ()::int AS total_rows
         FROM pg_replication_slots WHERE NOT active
        ORDER BY retained_bytes DESC LIMIT $1`,
    );
    if (total === 0) return { status: 'ok', summary: 'no inactive replication slots' };
    const top = evidence[0]!;
    const retained = num(top.retained_bytes);
    return {
      status: retained >= ctx.threshold('critical') ? 'critical' : 'warn',
      summary: `${plural(total, 'inactive replication slot')}; ${top.slot_name} retains ${formatBytes(retained)} of WAL`,
      evidence: evidence.map((row) => ({ ...row, retained: formatBytes(num(row.retained_bytes)) })),
      evidenceTotal: total,
    };
  },
};

export const replicaLag: CheckDefinition = {
  id: 'replica_lag',
  title: 'Replication lag',
  description:
    'On a primary, the replay lag of connected standbys; on a standby, how far replay is behind what it has received.',
  needsReadAllStats: true,
  thresholds: [
    { key: 'warn', unit: 'seconds', default: 5, description: 'replay lag' },
    { key: 'critical', unit: 'seconds', default: 60, description: 'replay lag' },
  ],
  remediation: {
    procedure: 'postgres-health#investigate-replica-lag',
    text: 'Look for long queries on the standby (hot_standby_feedback conflicts), network or disk saturation, and large write bursts.',
  },
  async run(ctx) {
    const warn = ctx.threshold('warn');
    const critical = ctx.threshold('critical');
    if (ctx.server.inRecovery) {
      const [row] = await ctx.db.query<{ lag_seconds: number | null }>(
        `SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                     ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float8 AS lag_seconds`,
      );
      const lag = num(row?.lag_seconds);
      return {
        status: levelAbove(lag, warn, critical, operatorsOf(ctx)),
        summary: `this standby replays ${formatSeconds(lag)} behind`,
        evidence: [{ lag_seconds: lag }],
        evidenceTotal: 1,
      };
    }
    const { evidence, total } = await topRows(
      ctx,
      `SELECT application_name, client_addr::text AS client_addr, state, sync_state,
              coalesce(extract(epoch FROM replay_lag), 0)::float8 AS replay_lag_seconds,
              coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::float8 AS replay_lag_bytes,
              count(*) OVER ()::int AS total_rows
         FROM pg_stat_replication ORDER BY replay_lag_seconds DESC LIMIT $1`,
    );
    if (total === 0) return { status: 'ok', summary: 'no standbys connected' };
    const lag = num(evidence[0]!.replay_lag_seconds);
    return {
      status: levelAbove(lag, warn, critical, operatorsOf(ctx)),
      summary: `${plural(total, 'standby', 'standbys')}; the furthest behind replays ${formatSeconds(lag)} late`,
      evidence,
      evidenceTotal: total,
    };
  },
};

/** What the checkpoints check reads: server-wide counters and the settings that explain them. */
export interface CheckpointSample {
  timed: number;
  requested: number;
  /** Seconds the counters cover: since their stats_reset (or the server's start). */
  statsAgeSeconds: number;
  /** WAL written as pg_stat_wal counts it (PG 14+), and the seconds that covers; null before 14. */
  walBytes: number | null;
  walStatsAgeSeconds: number | null;
  maxWalSizeBytes: number;
  completionTarget: number;
  checkpointTimeoutSeconds: number;
}

export interface CheckpointLimits {
  warn: number;
  minCheckpoints: number;
  minStatsAgeSeconds: number;
}

/**
 * The judgement of the checkpoints check, apart from reading so it can be tested on any
 * numbers. The counters are the server's, so every database on that server reports the same
 * figure: the summary says so. `requested` counts WAL pressure but also CREATE/DROP DATABASE,
 * a manual CHECKPOINT and the start of a base backup; where pg_stat_wal tells how much WAL
 * was written, only as many requested checkpoints as that WAL could have forced are held
 * against max_wal_size.
 */
export function judgeCheckpoints(
  sample: CheckpointSample,
  limits: CheckpointLimits,
): { status: 'ok' | 'warn'; summary: string; evidence: EvidenceRow } {
  const all = sample.timed + sample.requested;
  const pct = all > 0 ? Math.round((1000 * sample.requested) / all) / 10 : 0;
  const since = formatSeconds(sample.statsAgeSeconds);
  // A WAL-forced checkpoint starts once WAL since the last one reaches this much (PG 11+).
  const walPerForced = sample.maxWalSizeBytes / (1 + sample.completionTarget);
  const walInWindow = walWrittenIn(sample);
  // An upper bound: WAL written may as well have been checkpointed by the timer.
  const walCouldForce =
    walInWindow === null ? null : Math.min(sample.requested, Math.ceil(walInWindow / walPerForced));
  const evidence: EvidenceRow = {
    timed: sample.timed,
    requested: sample.requested,
    requested_pct: pct,
    stats_cover: since,
    wal_written: walInWindow === null ? null : formatBytes(walInWindow),
    wal_could_force_at_most: walCouldForce,
    max_wal_size: formatBytes(sample.maxWalSizeBytes),
    checkpoint_timeout: formatSeconds(sample.checkpointTimeoutSeconds),
  };
  const server = 'server-wide (every database on this server shows the same)';
  if (all < limits.minCheckpoints) {
    return {
      status: 'ok',
      summary: `${server}: too few checkpoints to judge (${all} in ${since}; needs ${limits.minCheckpoints})`,
      evidence,
    };
  }
  if (sample.statsAgeSeconds < limits.minStatsAgeSeconds) {
    return {
      status: 'ok',
      summary: `${server}: statistics cover only ${since} (needs ${formatSeconds(limits.minStatsAgeSeconds)}) — too short to judge ${pct}% requested of ${all}`,
      evidence,
    };
  }
  const share = `${pct}% of ${all} checkpoints in ${since} were requested rather than timed`;
  if (pct < limits.warn) return { status: 'ok', summary: `${server}: ${share}`, evidence };
  if (walCouldForce !== null && walInWindow !== null) {
    const walPct = Math.round((1000 * walCouldForce) / all) / 10;
    if (walPct < limits.warn) {
      return {
        status: 'ok',
        summary: `${server}: ${share}, but the ${formatBytes(walInWindow)} of WAL written could have forced at most ${walCouldForce}: the rest came from CREATE/DROP DATABASE, a manual CHECKPOINT or base backups, which max_wal_size does not change`,
        evidence,
      };
    }
  }
  return { status: 'warn', summary: `${server}: ${share}`, evidence };
}

/** WAL written in the checkpoint counters' window: all of pg_stat_wal's when it covers longer, else its rate over that window. */
function walWrittenIn(sample: CheckpointSample): number | null {
  if (sample.walBytes === null || sample.walStatsAgeSeconds === null || sample.walStatsAgeSeconds <= 0)
    return null;
  if (sample.walStatsAgeSeconds >= sample.statsAgeSeconds) return sample.walBytes;
  return (sample.walBytes / sample.walStatsAgeSeconds) * sample.statsAgeSeconds;
}

export const checkpoints: CheckDefinition = {
  id: 'checkpoints',
  title: 'Requested checkpoints (server-wide)',
  description:
    // Kept short: `/runbook` matching reads titles and descriptions, and the longer account of
    // what else requests a checkpoint matched an unrelated seed procedure; the advice has it.
    'Share of checkpoints requested rather than started by checkpoint_timeout (pg_stat_bgwriter up to PG 16, pg_stat_checkpointer from PG 17), server-wide; high with the WAL to account for it means max_wal_size is too small. Judged once the statistics cover min_stats_age.',
  thresholds: [
    { key: 'warn', unit: 'percent', default: 50, description: 'of checkpoints were requested' },
    {
      key: 'min_checkpoints',
      unit: 'count',
      default: 10,
      description: 'fewer checkpoints are too few to judge',
    },
    {
      key: 'min_stats_age',
      unit: 'seconds',
      default: 86_400,
      description:
        'statistics reset more recently than this are too short a sample (a day covers a daily load cycle)',
    },
  ],
  remediation: {
    procedure: 'postgres-health#tune-checkpoints',
    text: "Find what requested them first. With log_checkpoints on (default from PG 15), the server log says 'checkpoint starting: wal' for WAL pressure and 'immediate force wait' or 'force wait' for CREATE/DROP DATABASE, a manual CHECKPOINT or a base backup; from PG 14 compare pg_stat_wal's wal_bytes over a checkpoint_timeout with max_wal_size. Raise max_wal_size only when WAL is the cause, so checkpoints happen on checkpoint_timeout instead of under write pressure.",
  },
  async run(ctx) {
    const counters =
      ctx.server.versionNum >= 170000
        ? 'SELECT num_timed AS timed, num_requested AS requested, stats_reset FROM pg_stat_checkpointer'
        : 'SELECT checkpoints_timed AS timed, checkpoints_req AS requested, stats_reset FROM pg_stat_bgwriter';
    const wal =
      ctx.server.versionNum >= 140000
        ? `(SELECT wal_bytes::float8 FROM pg_stat_wal) AS wal_bytes,
           (SELECT extract(epoch FROM now() - coalesce(stats_reset, pg_postmaster_start_time()))::float8 FROM pg_stat_wal) AS wal_stats_age_seconds`
        : 'NULL::float8 AS wal_bytes, NULL::float8 AS wal_stats_age_seconds';
    const [row] = await ctx.db.query<Record<string, number | null>>(
      `SELECT c.timed::float8 AS timed, c.requested::float8 AS requested,
              extract(epoch FROM now() - coalesce(c.stats_reset, pg_postmaster_start_time()))::float8 AS stats_age_seconds,
              ${wal},
              pg_size_bytes(current_setting('max_wal_size'))::float8 AS max_wal_size_bytes,
              current_setting('checkpoint_completion_target')::float8 AS completion_target,
              (SELECT setting::float8 FROM pg_settings WHERE name = 'checkpoint_timeout') AS checkpoint_timeout_seconds
         FROM (${counters}) c`,
    );
    const judged = judgeCheckpoints(
      {
        timed: num(row?.timed),
        requested: num(row?.requested),
        statsAgeSeconds: num(row?.stats_age_seconds),
        walBytes: row?.wal_bytes ?? null,
        walStatsAgeSeconds: row?.wal_stats_age_seconds ?? null,
        maxWalSizeBytes: num(row?.max_wal_size_bytes),
        completionTarget: num(row?.completion_target),
        checkpointTimeoutSeconds: num(row?.checkpoint_timeout_seconds),
      },
      {
        warn: ctx.threshold('warn'),
        minCheckpoints: ctx.threshold('min_checkpoints'),
        minStatsAgeSeconds: ctx.threshold('min_stats_age'),
      },
    );
    return { status: judged.status, summary: judged.summary, evidence: [judged.evidence], evidenceTotal: 1 };
  },
};
