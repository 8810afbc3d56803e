import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { CATALOG, JOBS, type JobItem, jobIdOf, jobSpec, QUEUES } from '../../src/jobs/catalog.js';
import { JobCannotSucceed, JobProcessors } from '../../src/jobs/processors.js';
import { jobProcessors, type WorkerDeps } from '../../src/service/startWorkers.js';
import { TargetPools } from '../../src/targets/pools.js';

const RUN = '0b9c3c1e-8a52-4d5e-9d0a-2f6f6d1b7a11';
const RUN2 = '1c9c3c1e-8a52-4d5e-9d0a-2f6f6d1b7a12';
const OTHER = '5d0f9e3a-1c2b-4e6f-8a7b-9c0d1e2f3a4b';

describe('the job catalog', () => {
  it('names each job as producers named it by hand before, so a repeated enqueue is still a no-op', () => {
    const ids: Array<[JobItem, string | undefined]> = [
      [{ name: JOBS.health, data: { runIds: [RUN, OTHER] } }, `health-${RUN}`],
      [{ name: JOBS.health, data: { runIds: [RUN] }, occasion: { requeue: 2 } }, `requeue-health-${RUN}-2`],
      [{ name: JOBS.healthReport, data: { runIds: [RUN] } }, `report-${RUN}`],
      [
        { name: JOBS.healthReport, data: { runIds: [RUN] }, occasion: { requeue: 1 } },
        `requeue-report-${RUN}-1`,
      ],
      [
        { name: JOBS.fleetHealth, data: { runIds: [RUN, OTHER], channel: 'C1', label: 'all targets' } },
        `fleet-${RUN}`,
      ],
      [
        { name: JOBS.fleetSummary, data: { runIds: [RUN, OTHER], channel: 'C1', label: 'tag:production' } },
        `fleet-summary-${RUN}`,
      ],
      [{ name: JOBS.procedureRun, data: { runId: RUN } }, RUN],
      [{ name: JOBS.procedurePost, data: { runId: RUN } }, `procedure-post-${RUN}`],
      [
        { name: JOBS.findingDetail, data: { runId: RUN, check: 'locks', channel: 'C1', threadTs: '1.2' } },
        `detail-${RUN}-locks`,
      ],
      [{ name: JOBS.scheduledHealth, data: { target: 'shop', channel: 'C0OPS' } }, 'scheduled-health-shop'],
      [
        {
          name: JOBS.scheduledHealthReport,
          data: {
            runId: RUN,
            channel: 'C0OPS',
            kind: 'problem',
            reason: 'changed',
            changes: [],
            moreChanges: 0,
            problemSince: null,
          },
        },
        `scheduled-health-${RUN}`,
      ],
      [
        {
          name: JOBS.scheduledHealthDigest,
          data: {
            channel: 'C0OPS',
            items: [
              {
                runId: RUN,
                channel: 'C0OPS',
                kind: 'problem' as const,
                reason: 'changed' as const,
                changes: [],
                moreChanges: 0,
                problemSince: null,
              },
              {
                ...{
                  runId: RUN,
                  channel: 'C0OPS',
                  kind: 'problem' as const,
                  reason: 'changed' as const,
                  changes: [],
                  moreChanges: 0,
                  problemSince: null,
                },
                runId: RUN2,
              },
            ],
          },
        },
        `scheduled-digest-${RUN}`,
      ],
      [
        {
          name: JOBS.scheduledHealth,
          data: { targets: ['shop', 'billing'], channel: 'C0OPS', group: '0123456789ab' },
        },
        'scheduled-health-C0OPS-0123456789ab',
      ],
      [
        {
          name: JOBS.scheduledProcedure,
          data: {
            schedule: 'scheduled-procedure-shop-rb#p-0_9_*_*_*-C1',
            procedure: 'rb#p',
            target: 'shop',
            channel: 'C1',
          },
        },
        'scheduled-procedure-shop-rb#p-0_9_*_*_*-C1',
      ],
      [{ name: JOBS.requestCard, data: { requestId: RUN } }, undefined],
      [{ name: JOBS.auditMirror, data: { channel: 'C1', threadTs: null, upToSeq: 42 } }, 'audit-mirror-42'],
      [{ name: JOBS.incidentOpen, data: { incidentId: RUN } }, `incident-open-${RUN}`],
      [{ name: JOBS.incidentRoot, data: { incidentId: RUN } }, undefined],
      [{ name: JOBS.incidentReport, data: { incidentId: RUN } }, undefined],
      [
        { name: JOBS.incidentTimer, data: { incidentId: RUN, timer: 'escalation' } },
        `incident-${RUN}-escalation`,
      ],
      [
        { name: JOBS.incidentTimer, data: { incidentId: RUN, timer: 'escalation', step: 2 } },
        `incident-${RUN}-escalation-2`,
      ],
      [
        { name: JOBS.incidentPage, data: { incidentId: RUN, provider: 'pagerduty', action: 'trigger' } },
        `incident-page-pagerduty-trigger-${RUN}`,
      ],
      [
        {
          name: JOBS.actionPreview,
          data: { runId: RUN, stepId: 's2', requestedBy: 'U1', values: {} },
          occasion: { click: 'c9' },
        },
        `preview-${RUN}-s2-c9`,
      ],
      [{ name: JOBS.approvalExpiry, data: { requestId: RUN } }, `expiry-${RUN}`],
      [
        { name: JOBS.approvalExpiry, data: { requestId: RUN }, occasion: { rearmedAt: 7 } },
        `expiry-${RUN}-7`,
      ],
      [{ name: JOBS.executeAction, data: { requestId: RUN } }, RUN],
      [{ name: JOBS.rowSecurityRevert, data: { requestId: RUN } }, `revert-${RUN}`],
    ];
    for (const [item, id] of ids) expect([item.name, jobIdOf(item)]).toEqual([item.name, id]);
    // Every job of the catalog is covered above.
    expect(new Set(ids.map(([item]) => item.name))).toEqual(new Set(Object.keys(CATALOG)));
  });

  it('gives each job its queue and retries, and a delay only where asked', () => {
    expect(jobSpec({ name: JOBS.executeAction, data: { requestId: RUN } })).toEqual({
      queue: QUEUES.remediation,
      options: expect.objectContaining({ jobId: RUN, attempts: 1 }),
    });
    const timer = jobSpec({
      name: JOBS.incidentTimer,
      data: { incidentId: RUN, timer: 'escalation' },
      delayMs: 900,
    });
    expect(timer.queue).toBe(QUEUES.notifications);
    expect(timer.options).toMatchObject({
      delay: 900,
      attempts: 5,
      backoff: { type: 'exponential', delay: 2000 },
    });
    expect(jobSpec({ name: JOBS.health, data: { runIds: [RUN] } }).options).not.toHaveProperty('delay');
    expect(
      jobSpec({ name: JOBS.auditMirror, data: { channel: 'C1', threadTs: null, upToSeq: 1 } }).options,
    ).toMatchObject({ attempts: 10, removeOnComplete: { age: 3600, count: 1000 } });
  });
});

describe('job processors', () => {
  it('start-up fails naming every job of the catalog that has no processor', () => {
    const jobs = new JobProcessors().register(JOBS.health, async () => undefined);
    expect(() => jobs.assertComplete()).toThrow(
      /no processor is registered for .*"health-report".*"execute-action"/,
    );
    expect(() => jobs.assertComplete()).not.toThrow(/"health",/);
  });

  it("the workers' own wiring has a processor for every job", async () => {
    const deps = {
      config: { incidents: {} },
      logger: { warn() {}, info() {}, debug() {} },
    } as unknown as WorkerDeps;
    const pools = new TargetPools(deps.logger);
    expect(() => jobProcessors(deps, pools).assertComplete()).not.toThrow();
    await pools.closeAll();
  });

  it('hands a processor its parsed payload and fails a bad payload for good, without running it', async () => {
    const seen: unknown[] = [];
    const jobs = new JobProcessors().register(JOBS.health, async (payload) => void seen.push(payload));
    // The single-run shape older bots queued arrives as a batch.
    await jobs.run({ name: JOBS.health, data: { runId: RUN }, id: '1', timestamp: 0 });
    expect(seen).toEqual([{ runIds: [RUN] }]);
    const bad = jobs.run({ name: JOBS.health, data: { runIds: ['not-a-uuid'] }, id: '2', timestamp: 0 });
    await expect(bad).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(bad).rejects.toThrow(/invalid health payload/);
    expect(seen).toHaveLength(1);
  });

  it('fails a job for good when its processor says no retry can help, and retries anything else', async () => {
    let failure: Error = new JobCannotSucceed('run 42 does not exist');
    const jobs = new JobProcessors().register(JOBS.health, async () => {
      throw failure;
    });
    const job = { name: JOBS.health, data: { runId: RUN }, id: '1', timestamp: 0 };
    await expect(jobs.run(job)).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(jobs.run(job)).rejects.toThrow('run 42 does not exist');
    failure = new Error('connection refused');
    await expect(jobs.run(job)).rejects.not.toBeInstanceOf(UnrecoverableError);
  });

  it("tells a processor whether a failure of this attempt is final, by the job's attempts", async () => {
    const seen: Array<boolean | undefined> = [];
    const jobs = new JobProcessors().register(JOBS.health, async (_data, job) => {
      seen.push(job.lastAttempt);
    });
    const job = { name: JOBS.health, data: { runId: RUN }, id: '1', timestamp: 0 };
    await jobs.run({ ...job, attemptsMade: 0, opts: { attempts: 3 } });
    await jobs.run({ ...job, attemptsMade: 1, opts: { attempts: 3 } });
    await jobs.run({ ...job, attemptsMade: 2, opts: { attempts: 3 } });
    // Without retries, the only attempt is the last.
    await jobs.run(job);
    expect(seen).toEqual([false, false, true, true]);
  });

  it('refuses by name a job its queue does not carry, or that has no processor', async () => {
    const jobs = new JobProcessors().register(JOBS.health, async () => undefined);
    const remediation = jobs.forQueue(QUEUES.remediation);
    const job = (name: string) => ({ name, data: { runIds: [RUN] }, id: '1', timestamp: 0 }) as never;
    await expect(remediation(job(JOBS.health))).rejects.toThrow('unknown remediation job "health"');
    await expect(jobs.run(job('no-such-job'))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(() => jobs.register(JOBS.health, async () => undefined)).toThrow(/two processors/);
  });
});
