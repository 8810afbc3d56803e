import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { executeAction } from '../../src/remediation/execute.js';
import { computePlan } from '../../src/remediation/plan.js';
import { runProcedureChecks } from '../../src/runbooks/execute/procedureChecks.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import { bindStatement } from '../../src/runbooks/procedureParams.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { TargetPools } from '../../src/targets/pools.js';
import { createTestDatabase, type TestDatabase, testTarget } from '../support/databases.js';

/*
 * Seed 001's RLS diagnosis as its author meant it: the role and the JWT claim apply to the
 * query written after them, so the check shows what that user sees.
 */
const [server] = inject('postgresServers');
const ALICE = '0f1e2d3c-4b5a-4697-8877-665544332211';
const BOB = '8d2f7c1e-0a4b-4c3d-9e8f-112233445566';

function rlsRunbook(role: string, statement: string) {
  return parseRunbook(
    [
      '# RLS',
      '## Help request creation fails',
      '```sql',
      `SET ROLE ${role};`,
      "SET request.jwt.claim.sub = '[user-uuid]';",
      statement,
      '```',
    ].join('\n'),
    'rls.md',
  ).procedures[0]!.steps;
}

describe('steps that run under SET ROLE and request settings', () => {
  let db: TestDatabase;
  const pools = new TargetPools();
  // Roles are the server's, shared by every test database: one of our own.
  const role = `rb_auth_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    await loadSqlParser();
    db = await createTestDatabase(server!.url, { demoSchema: false });
    await db.admin.query(`
      CREATE ROLE ${role} NOLOGIN;
      CREATE TABLE help_requests (id int PRIMARY KEY, user_id uuid NOT NULL, title text NOT NULL);
      INSERT INTO help_requests VALUES (1, '${ALICE}', 'groceries'), (2, '${BOB}', 'lift'), (3, '${ALICE}', 'meds');
      ALTER TABLE help_requests ENABLE ROW LEVEL SECURITY;
      CREATE POLICY own_requests ON help_requests FOR SELECT TO ${role}
        USING (user_id = nullif(current_setting('request.jwt.claim.sub', true), '')::uuid);
      CREATE POLICY own_inserts ON help_requests FOR INSERT TO ${role}
        WITH CHECK (user_id = nullif(current_setting('request.jwt.claim.sub', true), '')::uuid);
      GRANT SELECT, INSERT ON help_requests TO ${role};`);
  });
  afterAll(async () => {
    await pools.closeAll();
    await db?.drop();
    await db?.admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  });

  it('shows what the user sees, then leaves the connection as it was', async () => {
    const { procedures } = parseRunbook(
      [
        '# RLS',
        '## Users cannot see their requests',
        '```sql',
        '-- Test RLS policy directly',
        `SET ROLE ${role};`,
        "SET request.jwt.claim.sub = '[user-uuid]';",
        '',
        '-- Try the failing operation',
        'SELECT id, title FROM help_requests ORDER BY id;',
        '',
        '-- Who runs the next check',
        "SELECT current_user AS who, current_setting('request.jwt.claim.sub', true) AS claim;",
        '```',
      ].join('\n'),
      'rls.md',
    );
    const steps = procedures[0]!.steps;
    expect(steps.map((step) => step.kind)).toEqual(['check', 'check']);
    const target = testTarget(db.url);
    const asAlice = await runProcedureChecks(pools.readOnly(target), target, steps, { user_uuid: ALICE });
    expect(asAlice[0]!.result).toMatchObject({
      status: 'ok',
      rows: [
        ['1', 'groceries'],
        ['3', 'meds'],
      ],
    });
    // The role and the claim were the step's own: the next check runs as the bot, with no claim.
    expect(asAlice[1]!.result?.rows[0]?.[0]).not.toBe(role);
    expect(asAlice[1]!.result?.rows[0]?.[1]).toMatch(/^(|NULL)$/);
    const asBob = await runProcedureChecks(pools.readOnly(target), target, steps, { user_uuid: BOB });
    expect(asBob[0]!.result?.rows).toEqual([['2', 'lift']]);
    // The claim is a parameter like any other: without it the check does not run as nobody.
    const nobody = await runProcedureChecks(pools.readOnly(target), target, steps, {});
    expect(nobody[0]!.result).toMatchObject({
      status: 'error',
      error: expect.stringMatching(/^user_uuid is missing/),
    });
  });

  it('previews a change as the user, in a rolled-back transaction: the policy answers, nothing is written', async () => {
    const [step] = rlsRunbook(
      role,
      "INSERT INTO help_requests (id, user_id, title) VALUES (9, '[owner]', 'Test Request');",
    );
    if (step?.kind !== 'action') throw new Error('an action');
    const target = testTarget(db.url);
    const pool = pools.remediation(target);
    const as = (user: string, owner: string) => {
      const binding = bindStatement(step.statement, { user_uuid: user, owner });
      if (!binding.ok) throw new Error(binding.problems.join('; '));
      return computePlan(pool, target, step, binding.values, undefined, binding.session);
    };
    // Alice inserting her own request: the policy lets it through.
    const allowed = await as(ALICE, ALICE);
    expect(allowed).toMatchObject({ mode: 'dml', affectedRows: 1 });
    expect(allowed.summary).toBe(
      `INSERT would insert 1 row (as role ${role}, with request.jwt.claim.sub = ${ALICE})`,
    );
    expect(allowed.session).toEqual([
      { kind: 'role', role },
      { kind: 'setting', name: 'request.jwt.claim.sub', value: ALICE },
    ]);
    // Alice inserting one in Bob's name: refused by the policy, which is what the author was testing.
    await expect(as(ALICE, BOB)).rejects.toThrow(/new row violates row-level security policy/);
    expect((await db.admin.query('SELECT count(*)::int AS n FROM help_requests')).rows[0].n).toBe(3);
    // The approval is for this user: another claim is another plan.
    expect((await as(BOB, BOB)).hash).not.toBe(allowed.hash);
    // Approved, it runs under the same role and claim.
    const executed = await executeAction(pool, target, step, allowed.params, allowed);
    expect(executed).toMatchObject({ status: 'succeeded', affectedRows: 1 });
    expect((await db.admin.query('SELECT user_id FROM help_requests WHERE id = 9')).rows).toEqual([
      { user_id: ALICE },
    ]);
  });
});
