import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { RunbookLibrary, runbookSources } from '../../src/runbooks/runbookLibrary.js';
import { ProcedureRunStore } from '../../src/store/procedureRuns.js';
import { RunStore } from '../../src/store/runs.js';
import { cli } from '../support/cli.js';
import { createStateDatabase, type StateDatabase } from '../support/databases.js';

const [server] = inject('postgresServers');

/**
 * The commands that read and write the state database. `runbook-bot incident …` against a real state database, with the job queue on it (no
 * REDIS_URL): the same records and audit events as `/incident`, the Slack user given with
 * `--as`, and the terminal user kept with each event.
 */
describe('runbook-bot incident', () => {
  let state: StateDatabase;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    state = await createStateDatabase(server!.url);
    env = { DATABASE_URL: state.url };
  });
  afterEach(() => {
    nock.cleanAll();
  });
  afterAll(async () => {
    await state?.drop();
  });

  it('declares, posts a status and resolves through the same use case, audited as Slack is', async () => {
    const declared = await cli(
      ['incident', 'declare', 'P2', 'Checkout', 'failing', '--as', 'U0ALEX', '--channel', 'C0OPS'],
      env,
    );
    expect(declared.stderr).toBe('');
    expect(declared.stdout).toMatch(/^Declared INC-(\d+) \(P2\)\. Creating its channel…/);
    expect(declared.stdout).toContain('The bot opens it in Slack');
    expect(declared.code).toBe(0);
    const number = /INC-(\d+)/.exec(declared.stdout)![1];

    const status = await cli(
      ['incident', 'status', `INC-${number}`, 'Replica', 'caught', 'up', '--as', 'U0ALEX'],
      env,
    );
    expect(status).toMatchObject({ code: 0, stdout: `INC-${number}: posted a status: Replica caught up` });
    const resolved = await cli(['incident', 'resolve', number!, 'Failed', 'over', '--as', 'U0ALEX'], env);
    expect(resolved.stdout).toContain(`Resolved INC-${number}.`);
    const again = await cli(['incident', 'resolve', `INC-${number}`, '--as', 'U0ALEX'], env);
    expect(again).toMatchObject({ code: 3, stderr: `error: INC-${number} is already resolved.` });

    const { rows: incidents } = await state.pool.query(
      'SELECT declared_by, origin_channel, status, title FROM incidents WHERE number = $1',
      [Number(number)],
    );
    expect(incidents[0]).toEqual({
      declared_by: 'U0ALEX',
      origin_channel: 'C0OPS',
      status: 'resolved',
      title: 'Checkout failing',
    });
    const { rows: events } = await state.pool.query(
      `SELECT kind, actor, data->>'via' AS via FROM audit_events WHERE kind LIKE 'incident_%' ORDER BY seq`,
    );
    expect(events.map((event) => [event.kind, event.actor])).toEqual([
      ['incident_declared', 'U0ALEX'],
      ['incident_updated', 'U0ALEX'],
      ['incident_resolved', 'U0ALEX'],
    ]);
    for (const event of events) expect(event.via).toMatch(/^terminal(:.+)?$/);
  });

  it('the report names people as Slack does when SLACK_BOT_TOKEN is set, and shows ids without it', async () => {
    const declared = await cli(
      ['incident', 'declare', 'P3', 'Slow', 'search', '--as', 'U0ALEX', '--channel', 'C0OPS'],
      env,
    );
    const reference = /INC-\d+/.exec(declared.stdout)![0];
    const withoutToken = await cli(['incident', 'report', reference], env);
    expect(withoutToken.code).toBe(0);
    expect(withoutToken.stdout).toContain('@U0ALEX');

    const looked: string[] = [];
    nock('https://slack.test')
      .persist()
      .post('/api/users.info')
      .reply((_uri, body) => {
        const user = new URLSearchParams(body as string).get('user') ?? '';
        looked.push(user);
        return [200, { ok: true, user: { id: user, name: 'alex', profile: { display_name: 'Alex' } } }];
      });
    const named = await cli(['report', reference], {
      ...env,
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_API_URL: 'https://slack.test/api',
    });
    expect(named.code).toBe(0);
    expect(looked).toContain('U0ALEX');
    expect(named.stdout).toContain('@Alex');
    expect(named.stdout).not.toContain('@U0ALEX');
  });

  it('says what is wrong with a severity, a person, a channel or an incident', async () => {
    const severity = await cli(
      ['incident', 'declare', 'P5', 'x', '--as', 'U0ALEX', '--channel', 'C0OPS'],
      env,
    );
    expect(severity).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('"P5" is not a severity; use one of P0, P1, P2, P3'),
    });
    const person = await cli(['incident', 'declare', 'P1', 'x', '--as', 'alex', '--channel', 'C0OPS'], env);
    expect(person.stderr).toContain('--as takes a Slack user id');
    const channel = await cli(['incident', 'declare', 'P1', 'x', '--as', 'U0ALEX', '--channel', '#ops'], env);
    expect(channel.stderr).toContain('--channel takes a Slack channel id');
    const missing = await cli(['incident', 'status', 'INC-999', 'hello', '--as', 'U0ALEX'], env);
    expect(missing).toMatchObject({ code: 3, stderr: 'error: No incident "INC-999".' });
    const noUser = await cli(['incident', 'status', 'INC-1', 'hello'], env);
    expect(noUser.code).toBe(3);
    expect(noUser.stderr).toContain("required option '--as <slack-user-id>'");
  });

  it('history lists procedure runs next to health runs, newest first, naming people when it can', async () => {
    const { library } = await RunbookLibrary.load(runbookSources(undefined));
    const { runbook, procedure } = library.resolveProcedure('postgres-health#vacuum-table');
    await new RunStore(state.pool).createHealthRun({ target: 'shop', requestedBy: 'U0ALEX' });
    await new ProcedureRunStore(state.pool).create({
      runbook,
      procedure,
      target: 'shop',
      requestedBy: 'U0NORA',
      params: { table: 'orders' },
    });
    nock('https://slack.test')
      .persist()
      .post('/api/users.info')
      .reply((_uri, body) => {
        const user = new URLSearchParams(body as string).get('user');
        return user === 'U0NORA'
          ? [200, { ok: true, user: { id: user, name: 'nora' } }]
          : [200, { ok: false, error: 'user_not_found' }];
      });
    const text = await cli(['history'], {
      ...env,
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_API_URL: 'https://slack.test/api',
    });
    expect(text.code).toBe(0);
    const [first, second] = text.stdout.split('\n');
    expect(first).toMatch(/procedure\s+shop\s+queued\s+postgres-health#vacuum-table\s+@nora /);
    expect(second).toMatch(/health\s+shop\s+queued\s+.*@U0ALEX /);
    const json = JSON.parse((await cli(['history', '--json'], env)).stdout);
    expect(json[0]).toMatchObject({
      kind: 'procedure',
      requestedBy: 'U0NORA',
      procedure: { id: 'postgres-health#vacuum-table', params: { table: 'orders' } },
    });
    expect(json[1]).toMatchObject({ kind: 'health', requestedBy: 'U0ALEX' });
  });
});
