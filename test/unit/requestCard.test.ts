import { describe, expect, it } from 'vitest';
import type { ActionStep } from '../../src/runbooks/model.js';
import { requestCardBlocks } from '../../src/slack/views/requestCard.js';
import type { ActionRequest } from '../../src/store/actionRequests.js';

const step: ActionStep = {
  kind: 'action',
  id: '1',
  title: 'Kill idle connections',
  role: 'remediate',
  source: { file: 'pool.md', line: 1 },
  statement: {
    text: 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity',
    sql: 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity',
    params: [],
    kind: 'SELECT',
    functions: ['pg_terminate_backend'],
  },
  risk: 'high',
  riskReasons: [],
  actionReasons: [],
  noTransaction: false,
};

function request(overrides: Partial<ActionRequest>): ActionRequest {
  return {
    id: '00000000-0000-0000-0000-000000000001',
    runId: '00000000-0000-0000-0000-000000000002',
    stepId: '1',
    target: 'prod',
    risk: 'high',
    sql: step.statement.sql,
    params: [],
    plan: {},
    planHash: 'a'.repeat(64),
    previewedBy: 'U0ONCALL',
    requestedBy: null,
    requiredApprovals: 1,
    status: 'previewed',
    expiresAt: null,
    approvedAt: null,
    executeBy: null,
    cardChannel: null,
    cardTs: null,
    outcome: null,
    approvers: [],
    blocked: null,
    ...overrides,
  };
}

const text = (blocks: unknown) => JSON.stringify(blocks);
const buttons = (blocks: Array<{ type: string; elements?: Array<{ text?: { text?: string } }> }>) =>
  blocks
    .flatMap((block) => (block.type === 'actions' ? (block.elements ?? []) : []))
    .map((e) => e.text?.text);

describe('the request card states scope and limits', () => {
  it("lists each backend's database", () => {
    const blocks = requestCardBlocks(
      request({
        plan: {
          summary: 'would terminate 1 backend of database shop',
          backends: [
            {
              pid: 41,
              user: 'app',
              database: 'shop',
              application: 'api',
              state: 'idle',
              ageSeconds: 700,
              query: 'SELECT 1',
            },
          ],
        },
      }),
      step,
      1,
    );
    expect(text(blocks)).toMatch(/pid +user +database +application/);
    expect(text(blocks)).toMatch(/41 +app +shop +api/);
    expect(buttons(blocks as never)).toEqual(['Request approval', 'Discard']);
  });

  it("says whether a DML preview's sample shows the rows before or after the change", () => {
    const blocks = requestCardBlocks(
      request({
        plan: {
          summary: 'UPDATE would change 1 row',
          sample: {
            columns: ['id', 'status'],
            rows: [['7', 'queued']],
            when: 'after',
            caption: 'the rows it would change, as they would be after the change',
          },
        },
      }),
      step,
      1,
    );
    expect(text(blocks)).toContain('_Sample: the rows it would change, as they would be after the change_');
    expect(text(blocks)).toMatch(/id +status\\n7 +queued/);
  });

  it('states the row limit, and why the preview raised the risk', () => {
    const blocks = requestCardBlocks(
      request({
        plan: {
          summary: 'UPDATE would change 450 rows',
          rowLimit: { rows: 1000, setBy: 'target prod' },
          riskRaised: 'it would change 450 rows (100 or more)',
        },
      }),
      step,
      1,
    );
    expect(text(blocks)).toContain(
      '*Plan:* UPDATE would change 450 rows · limit 1,000 rows (set by target prod)',
    );
    expect(text(blocks)).toContain('*Risk raised to high:* it would change 450 rows (100 or more)');
  });

  it('offers only Discard for a blocked plan, saying why', () => {
    const over = requestCardBlocks(
      request({
        plan: {
          summary: 'UPDATE would change 5000 rows',
          blocked: { kind: 'over_limit', reason: 'it would change 5,000 rows' },
        },
        blocked: 'it would change 5,000 rows',
      }),
      step,
      1,
    );
    expect(buttons(over as never)).toEqual(['Discard']);
    expect(text(over)).toContain(
      'Over the limit: it would change 5,000 rows. It cannot be requested for approval.',
    );
    const reason = 'table table_name does not exist on prod; function trigger_function() does not exist';
    const missing = requestCardBlocks(
      request({
        plan: { summary: `cannot run: ${reason}`, blocked: { kind: 'missing_objects', reason } },
        blocked: reason,
      }),
      step,
      1,
    );
    expect(buttons(missing as never)).toEqual(['Discard']);
    expect(text(missing)).toContain(
      `Cannot run on this target: ${reason}. It cannot be requested for approval.`,
    );
  });

  it('says an execution that changed nothing did nothing', () => {
    const blocks = requestCardBlocks(
      request({ status: 'nothing_done', outcome: { summary: 'UPDATE changed nothing (0 rows)' } }),
      step,
      1,
    );
    expect(text(blocks)).toContain('Nothing done: nothing was changed');
    expect(text(blocks)).not.toContain('Executed');
    expect(buttons(blocks as never)).toEqual([]);
  });
});
