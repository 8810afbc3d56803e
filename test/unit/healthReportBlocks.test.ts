import type { KnownBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import type { Finding, HealthReport } from '../../src/health/types.js';
import { ACTIONS } from '../../src/slack/actionIds.js';
import { blockViolations } from '../../src/slack/blockLimits.js';
import { healthFindingDetail, healthReportBlocks } from '../../src/slack/views/healthReport.js';

function finding(i: number, status: Finding['status'], rows = 10, width = 300): Finding {
  return {
    id: `check_${i}`,
    title: `Check number ${i}`,
    status,
    summary: `finding ${i} <b>needs</b> a look & more`,
    threshold: { warn: 1 },
    evidence: Array.from({ length: rows }, (_, r) => ({
      pid: r,
      query: `SELECT ${'x'.repeat(width)} -- ${i}.${r}`,
    })),
    evidenceTotal: rows * 4,
    remediation: { procedure: 'postgres-health#x', text: 'Do the thing.' },
    durationMs: 1,
  };
}

function report(findings: Finding[]): HealthReport {
  return {
    target: 'prod',
    status: 'critical',
    startedAt: '2026-01-01T00:00:00Z',
    durationMs: 42,
    serverVersion: '16.4',
    findings,
  };
}

const texts = (blocks: KnownBlock[]) =>
  blocks.map((b) => ('text' in b && b.text && typeof b.text !== 'string' ? b.text.text : '')).join('\n');

describe('health report blocks', () => {
  it.each([40, 70])(
    'stays within Block Kit limits with %i findings and long evidence, naming every one',
    (count) => {
      const findings = Array.from({ length: count }, (_, i) =>
        finding(i, i % 3 === 0 ? 'critical' : 'warn', 50, 2000),
      );
      findings.push(...Array.from({ length: 10 }, (_, i) => finding(100 + i, 'ok', 0)));
      const blocks = healthReportBlocks(report(findings), { runId: 'run-1' });
      expect(blockViolations(blocks)).toEqual([]);
      const all = texts(blocks);
      // A finding's own line names it by title; those that did not fit, by id.
      const missing = findings.filter(
        (f) => f.status !== 'ok' && !all.includes(`*${f.title}*`) && !all.includes(`\`${f.id}\``),
      );
      expect(missing).toEqual([]);
      const withButtons = blocks.filter((b) => b.type === 'section' && b.accessory).length;
      if (count > 45) expect(all).toContain(`…and ${count - withButtons} more: \``);
      else expect(withButtons).toBe(count);
    },
  );

  it('offers the procedure for each object a finding found, its names filled in', () => {
    const duplicate: Finding = {
      ...finding(1, 'warn', 0),
      evidence: [
        { schema: 'public', table: 'orders', first_trigger: 'orders_sync', second_trigger: 'orders_sync_2' },
      ],
      evidenceTotal: 1,
      remediation: {
        procedure: 'postgres-health#drop-duplicate-trigger',
        text: 'Drop the duplicate.',
        params: { schema: 'schema', table: 'table', trigger: 'second_trigger' },
      },
    };
    const all = texts(healthReportBlocks(report([duplicate]), { runId: 'run-1' }));
    expect(all).toContain(
      '`/runbook run postgres-health#drop-duplicate-trigger schema=public table=orders trigger=orders_sync_2`',
    );
  });

  it('warns, in the report itself, when checks ran as a superuser, without spending a block on it', () => {
    const plain = healthReportBlocks(report([finding(1, 'warn', 2)]), { runId: 'run-1' });
    const warned = healthReportBlocks(
      {
        ...report([finding(1, 'warn', 2)]),
        roleWarning: 'checks run as postgres, a superuser: give the read connection a least-privileged role',
      },
      { runId: 'run-1' },
    );
    expect(warned).toHaveLength(plain.length);
    expect(blockViolations(warned)).toEqual([]);
    const context = JSON.stringify(warned.filter((block) => block.type === 'context'));
    expect(context).toContain(':warning: checks run as postgres, a superuser');
    expect(JSON.stringify(plain)).not.toContain(':warning:');
  });

  it('puts critical findings first, escapes database text, and links buttons to the run', () => {
    const blocks = healthReportBlocks(
      report([finding(1, 'warn', 2), finding(2, 'critical', 2), finding(3, 'ok')]),
      {
        runId: 'run-7',
      },
    );
    expect(blocks[0]).toMatchObject({ type: 'header', text: { text: 'Health of prod: CRITICAL' } });
    const sections = blocks.filter((b) => b.type === 'section');
    expect(texts(sections)).toMatch(/Check number 2[\s\S]*Check number 1/);
    expect(texts(sections)).not.toContain('Check number 3');
    expect(texts(sections)).toContain('&lt;b&gt;needs&lt;/b&gt; a look &amp; more');
    const details = sections[0]!.type === 'section' ? sections[0]!.accessory : undefined;
    expect(details).toMatchObject({
      action_id: ACTIONS.healthDetails,
      value: JSON.stringify({ runId: 'run-7', check: 'check_2' }),
    });
    const context = blocks.find((b) => b.type === 'context');
    expect(JSON.stringify(context)).toContain('1 ok · 0 skipped · 42 ms · target `prod` · PostgreSQL 16.4');
    expect(blocks.at(-1)).toMatchObject({ type: 'actions', elements: [{ action_id: ACTIONS.healthRerun }] });
  });

  it('escapes evidence too: a query text with < and & shows as written, in the report and the thread', () => {
    const sneaky: Finding = {
      ...finding(1, 'critical', 1),
      evidence: [{ pid: 1, query: 'SELECT * FROM t WHERE a < 3 AND b <@U0ADMIN> & c' }],
    };
    const inReport = texts(healthReportBlocks(report([sneaky]), { runId: 'r' }));
    const inThread = texts(healthFindingDetail(sneaky).blocks);
    // The evidence is in the thread only, whole.
    expect(inReport).not.toContain('a &lt; 3');
    expect(inThread).toContain('a &lt; 3 AND b &lt;@U0ADMIN&gt; &amp; c');
    for (const text of [inReport, inThread]) expect(text).not.toContain('<@U0A');
  });

  it('leads with one line per finding, worst first, and puts evidence and the next step in words behind Details', () => {
    const findings = Array.from({ length: 10 }, (_, i) => finding(i, i === 7 ? 'critical' : 'warn', 20, 80));
    const blocks = healthReportBlocks(report(findings), { runId: 'r' });
    const lines = blocks.filter((b) => b.type === 'section');
    expect(lines).toHaveLength(10);
    // Worst first; each is its title, its summary and the procedure to run, no table.
    expect(texts(lines).split('\n')[0]).toBe(
      ':red_circle: *Check number 7*: finding 7 &lt;b&gt;needs&lt;/b&gt; a look &amp; more',
    );
    expect(texts(lines)).toContain(':arrow_right: `/runbook run postgres-health#x`');
    expect(texts(lines)).not.toContain('```');
    expect(texts(lines)).not.toContain('Do the thing.');
    const detail = texts(healthFindingDetail(findings[7]!).blocks);
    expect(detail).toContain(':arrow_right: Do the thing.\n`/runbook run postgres-health#x`');
    expect(detail).toContain(`query: SELECT ${'x'.repeat(80)} -- 7.19`);
  });

  it('shows the reason for an unreachable target', () => {
    const blocks = healthReportBlocks(
      {
        ...report([]),
        status: 'unreachable',
        unreachable: 'connection refused by db:5432',
        serverVersion: null,
      },
      { runId: 'r' },
    );
    expect(texts(blocks)).toContain('*Unreachable:* connection refused by db:5432');
    expect(blockViolations(blocks)).toEqual([]);
  });

  it('splits a finding’s full evidence over sections for the thread, dropping no row', () => {
    const big = finding(9, 'warn', 60, 150);
    const { blocks, omittedRows } = healthFindingDetail(big);
    expect(blockViolations(blocks)).toEqual([]);
    expect(omittedRows).toBe(0);
    const all = texts(blocks);
    for (let r = 0; r < 60; r++) expect(all).toContain(`${'x'.repeat(150)} -- 9.${r}`);
    expect(all).toContain('60 of 240 rows were kept for this run');
  });

  it('counts the rows that do not fit in one message, for a file', () => {
    const huge = finding(5, 'warn', 100, 2500);
    const { blocks, omittedRows } = healthFindingDetail(huge);
    expect(blockViolations(blocks)).toEqual([]);
    expect(omittedRows).toBeGreaterThan(0);
    const shownRows = (texts(blocks).match(/-- 5\.\d+/g) ?? []).length;
    expect(shownRows + omittedRows).toBe(100);
    expect(texts(blocks)).toContain(`${omittedRows} more rows are in the attached file.`);
  });

  it('reports violations it is given', () => {
    const tooMany = Array.from({ length: 51 }, () => ({ type: 'divider' }) as KnownBlock);
    expect(blockViolations(tooMany)).toEqual(['51 blocks (max 50)']);
    expect(blockViolations([{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }])).toEqual([
      'block 0 (section): text 3001 > 3000',
    ]);
  });
});
