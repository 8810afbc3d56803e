import { plural } from '../../text.js';
import { levelAbove, num, operatorsOf, topRows } from '../checkKit.js';
import type { CheckDefinition } from '../types.js';
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

export const checkpoints: CheckDefinition = {
  id: 'checkpoints',
  title: 'Requested checkpoints',
  description:
    'Share of checkpoints forced by WAL volume rather than by the timer (pg_stat_bgwriter up to PG 16, pg_stat_checkpointer from PG 17); high means max_wal_size is too small.',
  thresholds: [
    { key: 'warn', unit: 'percent', default: 50, description: 'of checkpoints were requested' },
    {
      key: 'min_checkpoints',
      unit: 'count',
      default: 10,
      description: 'fewer checkpoints are too few to judge',
    },
  ],
  remediation: {
    procedure: 'postgres-health#tune-checkpoints',
    text: 'Raise max_wal_size so checkpoints happen on checkpoint_timeout instead of under write pressure.',
  },
  async run(ctx) {
    const source =
      ctx.server.versionNum >= 170000
        ? 'SELECT num_timed::float8 AS timed, num_requested::float8 AS requested FROM pg_stat_checkpointer'
        : 'SELECT checkpoints_timed::float8 AS timed, checkpoints_req::float8 AS requested FROM pg_stat_bgwriter';
    const [row] = await ctx.db.query<{ timed: number; requested: number }>(source);
    const timed = num(row?.timed);
    const requested = num(row?.requested);
    const all = timed + requested;
    const pct = all > 0 ? Math.round((1000 * requested) / all) / 10 : 0;
    const evidence = [{ timed, requested, requested_pct: pct }];
    if (all < ctx.threshold('min_checkpoints')) {
      return { status: 'ok', summary: `too few checkpoints to judge (${all})`, evidence, evidenceTotal: 1 };
    }
    return {
      status: pct >= ctx.threshold('warn') ? 'warn' : 'ok',
      summary: `${pct}% of ${all} checkpoints were requested rather than timed`,
      evidence,
      evidenceTotal: 1,
    };
  },
};
