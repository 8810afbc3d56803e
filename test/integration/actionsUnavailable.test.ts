import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { UserError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { requestPreview } from '../../src/runbooks/previewStep.js';
import { RunbookLibrary, runbookSources } from '../../src/runbooks/runbookLibrary.js';
import { ProcedureRunStore } from '../../src/store/procedureRuns.js';
import { TargetPools } from '../../src/targets/pools.js';
import { cli } from '../support/cli.js';
import { createStateDatabase, type StateDatabase } from '../support/databases.js';

const [server] = inject('postgresServers');

/** A targets file whose remediation credentials are named but not set in this environment. */
function targetsFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'remediation-unset-')), 'targets.yml');
  writeFileSync(path, 'targets:\n  prod:\n    url_env: PROD_URL\n    remediation_url_env: PROD_ADMIN_URL\n');
  return path;
}

describe('a target whose remediation credentials are not set', () => {
  let state: StateDatabase;
  const path = targetsFile();
  beforeAll(async () => {
    state = await createStateDatabase(server!.url);
  });
  afterAll(() => state?.drop());

  it('is loaded for checks, says why its actions cannot run, and never falls back to the read-only URL', async () => {
    const env = { TARGETS_FILE: path, PROD_URL: state.url };
    const target = loadConfig(env).targets.resolve('prod');
    expect(target.url).toBe(state.url);
    expect(target.remediationUnavailable).toBe(
      `its remediation connection's environment variable PROD_ADMIN_URL is not set (targets.prod.remediation_url_env in ${path})`,
    );
    const pools = new TargetPools(createLogger({ level: 'silent' }));
    expect(() => pools.remediation(target)).toThrowError(UserError);
    expect(() => pools.remediation(target)).toThrowError(
      /^Actions cannot run on prod: its remediation connection's environment variable PROD_ADMIN_URL is not set .*Its checks still run; set the variable and restart the bot/,
    );
    await pools.closeAll();

    // `runbook-bot targets` lists it, with the reason, and exits 1 as for a warning.
    const listed = await cli(['targets', '--offline'], env);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(1);
    expect(listed.stdout).toContain(
      "  actions cannot run: its remediation connection's environment variable PROD_ADMIN_URL is not set",
    );
  });

  it('answers Preview with the reason at once, before any form or job', async () => {
    const target = loadConfig({ TARGETS_FILE: path, PROD_URL: state.url }).targets.resolve('prod');
    const { library } = await RunbookLibrary.load(runbookSources());
    const ref = library.resolveProcedure('postgres-health#terminate-idle-in-transaction');
    const procedureRuns = new ProcedureRunStore(state.pool);
    const { run } = await procedureRuns.create({
      runbook: ref.runbook,
      procedure: ref.procedure,
      target: 'prod',
      requestedBy: 'U0ONCALL',
      params: {},
    });
    const queues = {
      enqueue: () => Promise.reject(new Error('nothing is queued for a target that cannot run actions')),
    };
    const outcome = await requestPreview(
      { procedureRuns, queues: queues as never, targets: { list: () => [target] } },
      { runId: run.id, stepId: '2' },
      'U0ONCALL',
      'click-1',
    );
    expect(outcome).toMatchObject({
      ok: false,
      reason: expect.stringMatching(
        /^Actions cannot run on prod: its remediation connection's environment variable PROD_ADMIN_URL is not set/,
      ),
    });
  });
});
