import { describe, expect, it } from 'vitest';
import { type CheckpointSample, judgeCheckpoints } from '../../src/health/checks/replication.js';

const DAY = 86_400;
const GB = 1024 ** 3;
const limits = { warn: 50, minCheckpoints: 10, minStatsAgeSeconds: DAY };
const sample = (over: Partial<CheckpointSample>): CheckpointSample => ({
  timed: 9,
  requested: 15,
  statsAgeSeconds: 3 * DAY,
  walBytes: null,
  walStatsAgeSeconds: null,
  maxWalSizeBytes: GB,
  completionTarget: 0.9,
  checkpointTimeoutSeconds: 300,
  ...over,
});

describe('the checkpoints judgement', () => {
  it('says the figure is server-wide, whatever it finds', () => {
    for (const over of [{}, { timed: 100 }, { timed: 1, requested: 2 }, { statsAgeSeconds: 600 }]) {
      expect(judgeCheckpoints(sample(over), limits).summary).toMatch(
        /^server-wide \(every database on this server/,
      );
    }
  });

  it('warns on a high share when nothing tells it the WAL could not have forced them', () => {
    const judged = judgeCheckpoints(sample({}), limits);
    expect(judged.status).toBe('warn');
    expect(judged.summary).toContain('62.5% of 24 checkpoints in 3 d were requested');
  });

  it('does not judge fewer checkpoints than min_checkpoints', () => {
    const judged = judgeCheckpoints(sample({ timed: 1, requested: 8 }), limits);
    expect(judged.status).toBe('ok');
    expect(judged.summary).toContain('too few checkpoints to judge (9 in 3 d; needs 10)');
  });

  it('does not judge statistics reset more recently than min_stats_age', () => {
    // The tester's fleet: 12 databases just created on one server, 15 of 24 checkpoints requested.
    const judged = judgeCheckpoints(sample({ statsAgeSeconds: 45 * 60 }), limits);
    expect(judged.status).toBe('ok');
    expect(judged.summary).toContain('statistics cover only 45 min (needs 24 h)');
    expect(
      judgeCheckpoints(sample({ statsAgeSeconds: 45 * 60 }), { ...limits, minStatsAgeSeconds: 0 }).status,
    ).toBe('warn');
  });

  it('holds against max_wal_size only the requested checkpoints the WAL written could have forced', () => {
    // 1 GB max_wal_size, completion target 0.9: a WAL-forced checkpoint needs ~539 MB of WAL.
    const fewWal = judgeCheckpoints(sample({ walBytes: 1.5 * GB, walStatsAgeSeconds: 3 * DAY }), limits);
    expect(fewWal.status).toBe('ok');
    expect(fewWal.evidence.wal_could_force_at_most).toBe(3);
    expect(fewWal.summary).toContain('could have forced at most 3');
    expect(fewWal.summary).toContain('CREATE/DROP DATABASE, a manual CHECKPOINT or base backups');

    const muchWal = judgeCheckpoints(sample({ walBytes: 20 * GB, walStatsAgeSeconds: 3 * DAY }), limits);
    expect(muchWal.status).toBe('warn');
    expect(muchWal.evidence.wal_could_force_at_most).toBe(15);
  });

  it('extrapolates the WAL rate when pg_stat_wal was reset after the checkpoint counters', () => {
    // 1 GB in the last day, counters over 3 days: about 3 GB, at most 6 WAL-forced of 24 (25%).
    const judged = judgeCheckpoints(sample({ walBytes: GB, walStatsAgeSeconds: DAY }), limits);
    expect(judged.evidence.wal_written).toBe('3 GB');
    expect(judged.evidence.wal_could_force_at_most).toBe(6);
    expect(judged.status).toBe('ok');
  });

  it('is ok under the warn share', () => {
    const judged = judgeCheckpoints(sample({ timed: 90, requested: 10 }), limits);
    expect(judged.status).toBe('ok');
    expect(judged.summary).toContain('10% of 100 checkpoints');
  });
});
