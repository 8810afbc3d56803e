import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { lintLines } from '../../src/terminal/runbookText.js';
import { parseDurationPhrase } from '../../src/timeInput.js';

const SEEDS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/seeds');

const LIBRARY_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../src/runbooks/library');

function library(file: string) {
  return parseRunbook(readFileSync(join(LIBRARY_DIR, file), 'utf8'), file);
}

function seed(prefix: string) {
  const name = readdirSync(SEEDS_DIR).find((file) => file.startsWith(prefix))!;
  return parseRunbook(readFileSync(join(SEEDS_DIR, name), 'utf8'), name);
}

const MIN = 60_000;

beforeAll(async () => {
  await loadSqlParser();
});

describe('response times as runbooks write them', () => {
  it('reads immediate, minutes, hours, next day, with or without "<" and "within"', () => {
    expect(parseDurationPhrase('Immediate')).toBe(0);
    expect(parseDurationPhrase('5 minutes')).toBe(5 * MIN);
    expect(parseDurationPhrase('< 15 minutes')).toBe(15 * MIN);
    expect(parseDurationPhrase('Within 30 min')).toBe(30 * MIN);
    expect(parseDurationPhrase('1h')).toBe(60 * MIN);
    expect(parseDurationPhrase('< 24 hours')).toBe(24 * 60 * MIN);
    expect(parseDurationPhrase('Next day')).toBe(24 * 60 * MIN);
    expect(parseDurationPhrase('Post-incident')).toBeUndefined();
    expect(parseDurationPhrase('Business hours')).toBeUndefined();
  });
});

describe("a runbook's severity table and milestones", () => {
  it('seed 004: P0 immediate, P1 5 min, P2 1 h, P3 next day, paged for P0 and P1', () => {
    const policy = seed('004').incidentPolicy!;
    expect(
      policy.severities.map(({ severity, responseMs, page }) => ({ severity, responseMs, page })),
    ).toEqual([
      { severity: 'P0', responseMs: 0, page: true },
      { severity: 'P1', responseMs: 5 * MIN, page: true },
      { severity: 'P2', responseMs: 60 * MIN, page: false },
      { severity: 'P3', responseMs: 24 * 60 * MIN, page: false },
    ]);
    expect(policy.milestones).toEqual([]);
  });

  it('seed 002: its "Level" column with labels, response times written "< 15 minutes"', () => {
    const policy = seed('002').incidentPolicy!;
    expect(
      policy.severities.map(({ severity, label, responseMs }) => ({ severity, label, responseMs })),
    ).toEqual([
      { severity: 'P0', label: 'P0 Critical', responseMs: 15 * MIN },
      { severity: 'P1', label: 'P1 High', responseMs: 60 * MIN },
      { severity: 'P2', label: 'P2 Medium', responseMs: 4 * 60 * MIN },
      { severity: 'P3', label: 'P3 Low', responseMs: 24 * 60 * MIN },
    ]);
  });

  it('seed 001: staged milestones per severity from its escalation procedures, untimed items left out', () => {
    const policy = seed('001').incidentPolicy!;
    expect(policy.severities).toEqual([]);
    const p0 = policy.milestones.filter((milestone) => milestone.severity === 'P0');
    expect(p0.map(({ atMs, text }) => [atMs / MIN, text])).toEqual([
      [0, 'Check Supabase status page'],
      [5, 'Contact Supabase support if infrastructure issue'],
      [10, 'Notify stakeholders of incident'],
      [15, 'Begin diagnostic procedures'],
    ]);
    const p1 = policy.milestones.filter((milestone) => milestone.severity === 'P1');
    expect(p1.map(({ atMs }) => atMs / MIN)).toEqual([15, 30, 60]);
    expect(
      policy.milestones.filter((milestone) => milestone.severity === 'P2').map(({ atMs }) => atMs / MIN),
    ).toEqual([60, 240, 1440]);
  });

  it('seed 004: its escalation path, the verbs left out, the database admin for P0 only', () => {
    expect(seed('004').incidentPolicy?.escalation).toEqual([
      { name: 'Check runbook, attempt resolution', line: 435 },
      { name: 'On-call engineer', line: 436 },
      { name: 'Engineering lead', line: 437 },
      { name: 'Database admin', severities: ['P0'], line: 438 },
    ]);
    // The built-in copy of the seed reads the same.
    expect(library('production-operations.md').incidentPolicy?.escalation).toEqual(
      seed('004').incidentPolicy?.escalation,
    );
  });

  it("reads no path from what is not one: seed 002's contact matrix, a matrix of problems, stages of work", () => {
    // Seed 002's "Escalation Path" column says who each role hands over to (a graph with
    // several starts, "→ Management" going outside it), not one path.
    expect(seed('002').incidentPolicy?.escalation).toBeUndefined();
    // "### Escalation Matrix": which problems are which level.
    expect(library('timothie-database-operations.md').incidentPolicy?.escalation).toBeUndefined();
    // "## Escalation Path" whose levels are stages with steps of their own.
    expect(library('hampton-mowerpower-system.md').incidentPolicy?.escalation).toBeUndefined();
    const path = (list: string) =>
      parseRunbook(`# Ops\n\n## Escalation Path\n\n${list}\n`, 'ops.md').incidentPolicy?.escalation;
    // Not numbered 1, 2, 3…, or a single level: not a path.
    expect(path('1. **Level 1**: On-call\n2. **Level 3**: Lead')).toBeUndefined();
    expect(path('1. **Level 1**: On-call')).toBeUndefined();
    expect(
      path('1. Level 1: Notify the on-call engineer\n2. Level 2: Escalate to the DBA (P0/P1 only).'),
    ).toEqual([
      { name: 'On-call engineer', line: 5 },
      { name: 'DBA', severities: ['P0', 'P1'], line: 6 },
    ]);
  });

  it('seeds without either have none', () => {
    expect(seed('000').incidentPolicy).toBeUndefined();
    expect(seed('003').incidentPolicy).toBeUndefined();
  });

  it('warns about a response time it cannot read, and keeps the rows it can', () => {
    const parsed = parseRunbook(
      '# Ops\n\n| Severity | Response time |\n|---|---|\n| P0 | whenever |\n| P1 | 10 min |\n',
      'ops.md',
    );
    expect(parsed.incidentPolicy?.severities).toEqual([{ severity: 'P1', responseMs: 10 * MIN, line: 6 }]);
    expect(parsed.warnings.map((warning) => warning.message)).toEqual([
      expect.stringContaining('"whenever" is not a response time the bot reads'),
    ]);
  });
});

describe('lint shows what incidents take from a runbook', () => {
  it('lists the severity table and the milestones as read', () => {
    const parsed = parseRunbook(
      '# Ops\n\n| Severity | Response time | Page |\n|---|---|---|\n| P0 | Immediate | Yes |\n| P2 | 90 min | No |\n\n### P0 (Critical)\n1. **Within 10 min**: Notify stakeholders\n',
      'ops.md',
    );
    const runbook = { ...parsed, source: { file: 'ops.md', sha256: 'x', origin: 'file' as const } };
    const plain = { bold: String, dim: String, yellow: String } as unknown as Parameters<typeof lintLines>[1];
    expect(lintLines(runbook, plain)).toEqual(
      expect.arrayContaining([
        '  severities (incidents about this runbook): P0 immediate, paged; P2 1 h 30 min',
        '  milestone P0 within 10 min: Notify stakeholders',
      ]),
    );
  });
});
