import type { KnownBlock } from '@slack/types';
import { describe, expect, it } from 'vitest';
import { parseRunbookCommand } from '../../src/commands/runbookCommand.js';
import type { Finding, HealthReport, ReportStatus } from '../../src/health/types.js';
import { blockViolations } from '../../src/slack/blockLimits.js';
import { type FleetEntry, fleetSummaryBlocks, summaryText } from '../../src/slack/views/fleetSummary.js';
import { type DigestEntry, scheduledDigestBlocks } from '../../src/slack/views/scheduledDigest.js';

function finding(id: string, status: Finding['status']): Finding {
  return {
    id,
    title: id,
    status,
    summary: `${id} <b>is</b> & so on`,
    threshold: null,
    evidence: [],
    evidenceTotal: 0,
    remediation: null,
    durationMs: 1,
  };
}

function entry(target: string, status: ReportStatus, findings: Finding[] = []): FleetEntry {
  const report: HealthReport = {
    target,
    status,
    startedAt: '2026-01-01T00:00:00Z',
    durationMs: 1234,
    serverVersion: '16.4',
    findings,
    ...(status === 'unreachable' ? { unreachable: 'connection refused by <db>:5432' } : {}),
  };
  return { target, report, error: null };
}

const texts = (blocks: KnownBlock[]) =>
  blocks.map((b) => ('text' in b && b.text && typeof b.text !== 'string' ? b.text.text : '')).join('\n');

describe('fleet summary blocks', () => {
  it('lists problem targets worst first with their worst findings, then the OK ones by name', () => {
    const blocks = fleetSummaryBlocks('all targets', [
      entry('billing', 'ok'),
      entry('shop', 'warn', [finding('dead_tuples', 'warn'), finding('connections', 'ok')]),
      { target: 'old', report: null, error: 'Unknown target "old".', link: 'https://acme.slack.com/p1' },
      entry('orders', 'critical', [
        finding('a', 'warn'),
        finding('b', 'critical'),
        finding('c', 'error'),
        finding('d', 'warn'),
      ]),
      entry('gone', 'unreachable'),
    ]);
    const text = texts(blocks);
    expect(blockViolations(blocks)).toEqual([]);
    expect(text.indexOf('*gone*')).toBeLessThan(text.indexOf('*old*'));
    expect(text.indexOf('*old*')).toBeLessThan(text.indexOf('*orders*'));
    expect(text.indexOf('*orders*')).toBeLessThan(text.indexOf('*shop*'));
    expect(text).toContain('connection refused by &lt;db&gt;:5432');
    expect(text).toContain('*old* could not run: Unknown target "old". · <https://acme.slack.com/p1|report>');
    expect(text).toContain('*orders* b (critical), c (error), a (warn), +1 more · 1.2 s');
    expect(text).toContain('OK: billing');
  });

  it('says how many the worker checked at once, when the fleet job said', () => {
    const context = (blocks: KnownBlock[]) => JSON.stringify(blocks.at(-1));
    const entries = [entry('shop', 'ok'), entry('billing', 'ok')];
    expect(context(fleetSummaryBlocks('all targets', entries))).not.toContain('at a time');
    expect(
      context(
        fleetSummaryBlocks('all targets', entries, { pace: 'at most 2 at a time: TARGET_CONNECTION_BUDGET' }),
      ),
    ).toContain('Checked at most 2 at a time: TARGET_CONNECTION_BUDGET.');
  });

  it('stays within Block Kit limits for 1000 problem targets, counting the ones it cannot list', () => {
    const findings = ['x', 'y', 'z'].map((c) => finding(c.repeat(60), 'warn'));
    const entries = Array.from({ length: 1000 }, (_, i) =>
      entry(`target-${String(i).padStart(3, '0')}`, 'warn', findings),
    );
    const blocks = fleetSummaryBlocks('tag:production', entries);
    expect(blockViolations(blocks)).toEqual([]);
    const text = texts(blocks);
    const listed = text.match(/\*target-\d+\*/g)?.length ?? 0;
    expect(listed).toBeGreaterThan(100);
    expect(text).toContain(`… and ${1000 - listed} more problem targets`);
  });

  it('keeps a scheduled digest of 1000 changed targets one valid message, counting the ones it cannot list', () => {
    const entries = Array.from(
      { length: 1000 },
      (_, i): DigestEntry => ({
        item: { kind: 'problem' } as unknown as DigestEntry['item'],
        report: entry(`target-${String(i).padStart(3, '0')}`, 'warn').report!,
        changes: `now warn: ${'dead tuples '.repeat(20)}`,
      }),
    );
    const blocks = scheduledDigestBlocks(entries);
    expect(blockViolations(blocks)).toEqual([]);
    const text = texts(blocks);
    const listed = text.match(/\*target-\d+\*/g)?.length ?? 0;
    expect(listed).toBeGreaterThan(100);
    expect(text).toContain(`… and ${1000 - listed} more targets`);
  });

  it('headlines the worst status and the counts', () => {
    expect(summaryText('tag:production', [entry('a', 'ok'), entry('b', 'critical'), entry('c', 'ok')])).toBe(
      ':red_circle: *Health of tag:production*: 1 critical, 2 ok (3 targets)',
    );
  });
});

describe('/runbook health grammar for a fleet', () => {
  it.each([
    ['health all', { kind: 'health', target: 'all' }],
    ['health tag:production', { kind: 'health', target: 'tag:production' }],
  ])('reads %j', (text, parsed) => {
    expect(parseRunbookCommand(text)).toEqual(parsed);
  });

  it('says what a tag may hold', () => {
    expect(parseRunbookCommand('health tag:<!channel>')).toMatchObject({
      kind: 'invalid',
      message: expect.stringContaining('is not a tag'),
    });
  });
});
