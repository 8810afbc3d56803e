import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { repairMojibake } from '../../src/runbooks/markdown/mojibake.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import { slugify } from '../../src/runbooks/markdown/slug.js';
import type {
  ActionStep,
  CheckStep,
  ManualStep,
  Procedure,
  Runbook,
  Step,
} from '../../src/runbooks/model.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';

/** The five runbooks users wrote, verbatim (test/fixtures/seeds, Markdown despite `.txt`). */
const SEEDS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/seeds');
const SEED_FILES = readdirSync(SEEDS_DIR)
  .filter((name) => name.endsWith('.txt'))
  .sort();

type Parsed = Omit<Runbook, 'source'>;
const parsedSeeds = new Map<string, Parsed>();

function seed(prefix: string): Parsed {
  const name = SEED_FILES.find((file) => file.startsWith(prefix));
  if (!name) throw new Error(`no seed ${prefix}`);
  let parsed = parsedSeeds.get(name);
  if (!parsed) {
    parsed = parseRunbook(readFileSync(join(SEEDS_DIR, name), 'utf8'), name);
    parsedSeeds.set(name, parsed);
  }
  return parsed;
}

function procedure(runbook: Parsed, titlePart: string): Procedure {
  const found = runbook.procedures.find((p) => p.title.includes(titlePart));
  if (!found)
    throw new Error(`no procedure "${titlePart}" in ${runbook.procedures.map((p) => p.title).join(', ')}`);
  return found;
}

const isCheck = (step: Step | undefined): step is CheckStep => step?.kind === 'check';
const isAction = (step: Step | undefined): step is ActionStep => step?.kind === 'action';
const isManual = (step: Step | undefined): step is ManualStep => step?.kind === 'manual';

function checks(p: Procedure): CheckStep[] {
  return p.steps.filter(isCheck);
}
function actions(p: Procedure): ActionStep[] {
  return p.steps.filter(isAction);
}

function parseDoc(markdown: string, file = 'doc.md'): Parsed {
  return parseRunbook(markdown, file);
}

beforeAll(async () => {
  await loadSqlParser();
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the five seed runbooks', () => {
  it('all load without throwing and without printing', () => {
    const printed = ['log', 'info', 'warn', 'error', 'debug'].map((method) =>
      vi.spyOn(console, method as 'log').mockImplementation(() => {}),
    );
    expect(SEED_FILES).toHaveLength(5);
    for (const name of SEED_FILES) {
      const text = readFileSync(join(SEEDS_DIR, name), 'utf8');
      const runbook = parseRunbook(text, name);
      const lineCount = text.split('\n').length;
      expect(runbook.id).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(runbook.procedures.length).toBeGreaterThan(0);
      const ids = runbook.procedures.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of runbook.procedures) {
        expect(p.id.startsWith(`${runbook.id}#`)).toBe(true);
        expect(p.steps.map((step) => step.id)).toEqual(p.steps.map((_, index) => String(index + 1)));
        for (const step of p.steps) {
          expect(step.title).not.toBe('');
          expect(step.source.file).toBe(name);
          expect(step.source.line).toBeGreaterThan(0);
          expect(step.source.line).toBeLessThanOrEqual(lineCount);
        }
      }
    }
    for (const spy of printed) expect(spy).not.toHaveBeenCalled();
  });

  it('repairs mis-encoded emoji in titles and keeps the existing ids', () => {
    const hampton = seed('000');
    expect(hampton.id).toBe('hampton-mowerpower-system-runbook');
    expect(hampton.title).toBe('Hampton Mowerpower System Runbook');
    const critical = procedure(hampton, 'CRITICAL');
    expect(critical.title).toBe('🚨 CRITICAL: "Database API Connection Lost" Error');
    expect(seed('001').sections.map((s) => s.heading)).toContain('🚨 Emergency Contacts & Escalation');
  });
});

describe('seed 004: Production Operations Runbook', () => {
  it('reads "Shopify Sync Queue Stuck" as diagnosis, three options and a verification', () => {
    const stuck = procedure(seed('004'), 'Shopify Sync Queue Stuck');
    expect(stuck.id).toBe('production-operations-runbook#2-shopify-sync-queue-stuck');

    const diagnosis = stuck.steps.filter((step) => step.section === 'Diagnosis');
    expect(diagnosis).toHaveLength(3);
    expect(diagnosis.every((step) => step.kind === 'check' && step.role === 'diagnose')).toBe(true);
    expect(diagnosis.map((step) => step.title)).toEqual([
      'Check queue status',
      'Find stuck items',
      'Check for failed items',
    ]);

    const [optionA, optionB, optionC] = ['Option A', 'Option B', 'Option C'].map((label) =>
      stuck.steps.filter((step) => step.section?.startsWith(label)),
    );
    expect(optionA).toHaveLength(1);
    expect(optionB).toHaveLength(1);
    expect(optionC).toHaveLength(1);
    for (const step of [...(optionA ?? []), ...(optionB ?? [])]) {
      expect(isAction(step)).toBe(true);
      if (!isAction(step)) continue;
      expect(step.role).toBe('remediate');
      expect(step.statement.functions).toContain('admin_clear_shopify_sync_queue');
      expect(step.actionReasons.join(' ')).toContain('admin_clear_shopify_sync_queue');
    }
    expect(optionA?.[0]?.section).toBe('Option A: Clear Failed Items');
    const retry = optionC?.[0];
    expect(isAction(retry)).toBe(true);
    if (isAction(retry)) {
      expect(retry.statement.kind).toBe('UPDATE');
      // `WHERE status = 'failed' AND retry_count >= max_retries`: every failed item of the queue.
      expect(retry.risk).toBe('high');
      expect(retry.title).toBe('Reset failed items to retry');
    }

    const verification = stuck.steps.at(-1);
    expect(isCheck(verification)).toBe(true);
    expect(verification?.role).toBe('verify');
    expect(verification?.section).toBe('Verification');

    expect(stuck.symptoms.some((line) => line.includes('queued') && line.includes('10 minutes'))).toBe(true);
  });

  it('keeps the quoted error of "Circuit Breaker Recovery" and its prevention', () => {
    const breaker = procedure(seed('004'), 'Circuit Breaker Recovery');
    expect(breaker.errorStrings).toContain('Circuit breaker is open');
    expect(breaker.prevention).toContain('Monitor external API health');
    // A bash block to redeploy is shown to a person, never run.
    const redeploy = breaker.steps.find((step) => step.title === 'Manual Recovery');
    expect(isManual(redeploy) && redeploy.code?.lang).toBe('bash');
    expect(breaker.steps.find((step) => step.title === 'Verify Recovery')?.role).toBe('verify');
  });

  it('keeps `<lot-id>` and `<user-email>` placeholders as parameters', () => {
    const batch = procedure(seed('004'), 'Batch Processing Failures');
    const complete = actions(batch).find((step) => step.statement.kind === 'UPDATE');
    expect(complete?.statement.text).toContain("'<lot-id>'");
    expect(complete?.statement.sql).not.toContain('<lot-id>');
    expect(complete?.statement.sql).toContain('$1');
    expect(complete?.statement.params.map((param) => param.placeholder).join(' ')).toContain('<lot-id>');
    const auth = procedure(seed('004'), 'Authentication Issues');
    expect(
      checks(auth)[0]
        ?.statement.params.map((param) => param.placeholder)
        .join(' '),
    ).toContain('<user-email>');
  });

  it('keeps tables and escalation paths outside procedures as sections', () => {
    const runbook = seed('004');
    const quickReference = runbook.sections.find((s) => s.heading === 'Quick Reference');
    expect(quickReference?.text).toContain('Circuit breaker open | P1 | 5 minutes | Yes');
    expect(runbook.sections.find((s) => s.heading === 'Escalation Path')?.text).toContain(
      'Page database admin',
    );
  });
});

describe('seed 000: Hampton Mowerpower System Runbook', () => {
  it('reads "Duplicate Triggers" as one check, then DROP TRIGGER and CREATE TRIGGER, both high risk', () => {
    const triggers = procedure(seed('000'), 'Duplicate Triggers');
    expect(triggers.id).toBe('hampton-mowerpower-system-runbook#issue-duplicate-triggers-causing-conflicts');
    expect(triggers.steps.map((step) => step.kind)).toEqual(['check', 'action', 'action']);
    const [find, drop, create] = triggers.steps;
    expect(find?.section).toBe('Find duplicates');
    expect(isAction(drop) && drop.statement.kind).toBe('DROP TRIGGER');
    expect(isAction(drop) && drop.risk).toBe('high');
    expect(isAction(create) && create.statement.kind).toBe('CREATE TRIGGER');
    expect(isAction(create) && create.risk).toBe('high');
    expect(drop?.title).toBe('Drop all instances of the trigger');
    expect(drop?.source.line).toBe(159);
    expect(create?.source.line).toBe(162);
    expect(triggers.symptoms).toContain('Same trigger fires twice');
  });

  it('makes the CRITICAL heading one procedure with its Symptoms, Root Cause and Prevention', () => {
    const hampton = seed('000');
    const critical = procedure(hampton, 'CRITICAL');
    expect(critical.id).toBe('hampton-mowerpower-system-runbook#critical-database-api-connection-lost-error');
    expect(hampton.procedures.some((p) => p.title === 'Symptoms' || p.title.includes('IMMEDIATE FIX'))).toBe(
      false,
    );
    expect(hampton.sections.some((s) => s.heading === 'Symptoms')).toBe(false);
    expect(critical.symptoms).toHaveLength(4);
    expect(critical.errorStrings).toEqual(
      expect.arrayContaining(['Database API Connection Lost', 'PGRST002']),
    );
    expect(critical.rootCause).toContain('cannot read its internal schema cache');
    expect(critical.prevention).toContain("pg_notify('pgrst', 'reload schema')");
    // The four numbered items of "⚡ IMMEDIATE FIX (5 minutes)" are the steps; prevention
    // SQL (including a ❌ BAD example view) is advice, not something to run.
    expect(critical.steps.map((step) => step.kind)).toEqual(['manual', 'manual', 'manual', 'manual']);
    expect(critical.steps[0]?.section).toBe('⚡ IMMEDIATE FIX (5 minutes)');
    expect(critical.steps[0]?.title).toBe('Open Supabase SQL Editor');
    expect(critical.steps[3]?.role).toBe('verify');
  });

  it('keeps a TypeScript fence that mixes // comments and SQL as one manual step', () => {
    const status = procedure(seed('000'), 'Job Status Update Fails');
    expect(status.steps).toHaveLength(1);
    const step = status.steps[0];
    expect(isManual(step)).toBe(true);
    if (isManual(step)) {
      expect(step.code?.lang).toBe('typescript');
      expect(step.code?.text).toContain('UPDATE jobs_db');
    }
    expect(seed('000').warnings.filter((w) => w.line >= 83 && w.line <= 97)).toEqual([]);
  });

  it('titles SQL under a numbered bold item with the item', () => {
    const rollback = procedure(seed('000'), 'Emergency Rollback Procedure');
    const flag = rollback.steps[0];
    expect(isAction(flag)).toBe(true);
    expect(flag?.title).toBe('Enable Stabilization Mode (if exists)');
    expect(rollback.symptoms).toContain('Critical functionality is broken');
  });
});

describe('seed 002: LotAstro WMS Incident Runbook', () => {
  it('reads "Database Connection Failures" response steps in order', () => {
    const connections = procedure(seed('002'), 'Database Connection Failures');
    expect(connections.id).toBe('lotastro-wms-incident-runbook#1-database-connection-failures');
    expect(connections.steps.map((step) => step.kind)).toEqual([
      'manual',
      'manual',
      'check',
      'action',
      'manual',
    ]);
    const [first, second, long, kill, restart] = connections.steps;
    expect(first?.title).toBe('Check Supabase Dashboard → Database → Health');
    expect(second?.title).toBe('Verify connection pool status (max connections)');
    // "Verify…" before anything was fixed is a look at the problem, not a verification.
    expect(second?.role).toBe('diagnose');
    expect(restart?.title).toBe('If persists, restart database from Supabase Dashboard');
    expect(isCheck(long) && long.statement.functions).not.toContain('pg_terminate_backend');
    expect(long?.title).toBe('Check for long-running queries');
    expect(long?.source.line).toBe(45);
    expect(isAction(kill) && kill.statement.functions).toContain('pg_terminate_backend');
    expect(kill?.role).toBe('remediate');
    expect(connections.steps.every((step) => step.section === 'Response Steps')).toBe(true);
    expect(connections.errorStrings).toEqual(expect.arrayContaining(['PGRST', 'Unable to load data']));
    expect(connections.verification).toContain('Verify user can load inventory page');
  });

  it('keeps the severity table and contact matrix as sections', () => {
    const sections = seed('002').sections;
    expect(sections.find((s) => s.heading === 'Severity Levels')?.text).toContain(
      'P0 - Critical | System down, data loss risk | < 15 minutes',
    );
    expect(sections.find((s) => s.heading === 'Contact Matrix')?.depth).toBe(2);
  });
});

describe('seeds 001 and 003', () => {
  it('makes each `#### **Issue**:` a procedure and reads its error block as symptoms', () => {
    const signup = procedure(seed('001'), "Users can't sign up");
    expect(signup.title).toBe("Issue: Users can't sign up or profiles aren't created");
    expect(signup.errorStrings).toEqual(
      expect.arrayContaining(['Profile creation failed', 'User registration incomplete']),
    );
    expect(signup.steps.some((step) => step.section === 'Diagnosis')).toBe(true);
    expect(signup.steps.some((step) => step.section === 'Solutions')).toBe(true);
  });

  it('keeps the `[PID]` placeholder as a parameter', () => {
    const cpu = procedure(seed('003'), 'High CPU/Memory Usage');
    const cancel = actions(cpu).find((step) => step.statement.functions.includes('pg_cancel_backend'));
    expect(cancel?.statement.text).toContain('[PID]');
    expect(cancel?.statement.sql).not.toContain('[PID]');
    expect(cancel?.statement.params.map((param) => param.placeholder)).toContain('[PID]');
  });

  it('keeps a table of contents out of the procedures', () => {
    expect(seed('003').sections.map((s) => s.heading)).toContain('Table of Contents');
    expect(seed('003').procedures.some((p) => p.title === 'Table of Contents')).toBe(false);
  });
});

describe('documents that go wrong', () => {
  it('keeps a broken ```sql fence as a manual step with a warning and loads the rest', () => {
    const runbook = parseDoc(
      [
        '# Disk Runbook',
        '',
        '## Disk full',
        '',
        '**Diagnosis:**',
        '```sql',
        'SELEC size FROM;',
        '```',
        '',
        '**Fix:**',
        '```sql',
        'VACUUM FULL big_table;',
        '```',
      ].join('\n'),
    );
    const disk = procedure(runbook, 'Disk full');
    expect(disk.steps.map((step) => step.kind)).toEqual(['manual', 'action']);
    const broken = disk.steps[0];
    expect(isManual(broken) && broken.code).toEqual({ lang: 'sql', text: 'SELEC size FROM;' });
    expect(runbook.warnings).toHaveLength(1);
    expect(runbook.warnings[0]?.line).toBe(6);
    expect(runbook.warnings[0]?.message).toMatch(
      /^SQL block at line 6 does not parse \(.+\); kept as a manual step$/,
    );
    expect(isAction(disk.steps[1]) && disk.steps[1].noTransaction).toBe(true);
  });

  it('loads a file without a title, named after the file, with a warning', () => {
    const runbook = parseDoc(
      '## Locks\n\n```sql\nSELECT * FROM pg_locks WHERE NOT granted;\n```\n',
      '/x/lock-triage.md',
    );
    expect(runbook.title).toBe('lock-triage');
    expect(runbook.id).toBe('lock-triage');
    expect(runbook.warnings.map((w) => w.message).join()).toContain('no "# Title" heading');
    expect(runbook.procedures[0]?.id).toBe('lock-triage#locks');
    expect(checks(runbook.procedures[0] as Procedure)).toHaveLength(1);
  });

  it('numbers procedures whose headings slug the same', () => {
    const runbook = parseDoc(
      '# Ops\n\n## Restart\n\n```sql\nSELECT 1;\n```\n\n## Restart!\n\n```sql\nSELECT 2;\n```\n\n## Restart\n\n```sql\nSELECT 3;\n```\n',
    );
    expect(runbook.procedures.map((p) => p.id)).toEqual(['ops#restart', 'ops#restart-2', 'ops#restart-3']);
  });
});

describe('annotations', () => {
  const doc = [
    '<!-- runbook: readonly=check_system_health -->',
    '# Annotated Runbook',
    '',
    '## Stuck jobs',
    '',
    '```sql',
    'SELECT check_system_health();',
    '```',
    '',
    '<!-- runbook: risk=high approvers=2 title="Requeue job 42" -->',
    '```sql',
    "UPDATE jobs SET status = 'queued' WHERE id = 42;",
    '```',
    '',
    '<!-- runbook: risk=extreme colour=blue -->',
    '```sql',
    "UPDATE jobs SET status = 'failed' WHERE id = 43;",
    '```',
    '',
    '<!-- runbook: readonly=job_stats -->',
    '```sql',
    'SELECT job_stats();',
    '```',
    '',
    '```sql',
    'SELECT job_stats();',
    '```',
  ].join('\n');

  it('applies risk, approvers and title to the next block, readonly to the file or the block', () => {
    const runbook = parseDoc(doc);
    const [health, requeue, failed, statsAnnotated, statsPlain] = procedure(runbook, 'Stuck jobs').steps;
    expect(isCheck(health)).toBe(true);
    expect(isAction(requeue)).toBe(true);
    if (isAction(requeue)) {
      expect(requeue.risk).toBe('high');
      expect(requeue.approvers).toBe(2);
      expect(requeue.riskReasons).toContain('set by annotation');
      expect(requeue.title).toBe('Requeue job 42');
    }
    expect(isAction(failed) && failed.approvers).toBeUndefined();
    expect(isAction(failed) && failed.riskReasons).not.toContain('set by annotation');
    expect(isCheck(statsAnnotated)).toBe(true);
    expect(isAction(statsPlain)).toBe(true);
  });

  it('warns about a bad value or an unknown key, naming what is accepted, and never fails', () => {
    const messages = parseDoc(doc).warnings.map((w) => `${w.line}: ${w.message}`);
    expect(messages).toEqual([
      '15: runbook annotation at line 15: risk="extreme" is not accepted (use low, medium or high)',
      '15: runbook annotation at line 15: unknown key "colour" (accepted: risk, approvers, readonly, title, max_rows, batched, signal_scope, expect)',
    ]);
  });

  it('warns about an annotation with no code block after it', () => {
    const runbook = parseDoc('# A\n\n## B\n\n<!-- runbook: risk=low -->\n\nJust prose.\n\n## C\n\ntext\n');
    expect(runbook.warnings.map((w) => w.message)).toEqual([
      'runbook annotation at line 5 is not followed by a code block in its section; ignored',
    ]);
  });
});

describe('scope and limit annotations', () => {
  const doc = [
    '# Ops',
    '',
    '## Archive',
    '',
    '<!-- runbook: max_rows=50000 batched=yes -->',
    '```sql',
    "DELETE FROM system_logs WHERE created_at < now() - interval '90 days';",
    '```',
    '',
    '<!-- runbook: signal_scope=server batched=no -->',
    '```sql',
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle';",
    '```',
    '',
    '```sql',
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle';",
    '```',
    '',
    '<!-- runbook: max_rows=lots signal_scope=everywhere batched=sometimes -->',
    '```sql',
    "UPDATE jobs SET status = 'queued' WHERE id = 1;",
    '```',
    '',
    '<!-- runbook: max_rows=10 -->',
    '```sql',
    'SELECT 1;',
    '```',
  ].join('\n');

  it('gives an action its max_rows, batched and signal_scope; the default scope is the target database', () => {
    const [archive, wide, narrow, bad] = actions(procedure(parseDoc(doc), 'Archive'));
    expect(archive?.maxRows).toBe(50_000);
    expect([archive?.batched, wide?.batched, narrow?.batched, bad?.batched]).toEqual([
      true,
      false,
      undefined,
      undefined,
    ]);
    expect(wide?.signalScope).toBe('server');
    expect(narrow?.signalScope).toBeUndefined();
    expect(bad?.maxRows).toBeUndefined();
    expect(bad?.signalScope).toBeUndefined();
  });

  it('warns about a bad max_rows or signal_scope, and about one above a block with no action', () => {
    expect(parseDoc(doc).warnings.map((w) => w.message)).toEqual([
      'runbook annotation at line 19: max_rows="lots" is not accepted (use a whole number from 1 to 1000000, e.g. max_rows=5000)',
      'runbook annotation at line 19: signal_scope="everywhere" is not accepted (use database, the default: only the target\'s database, or server: every database on the server)',
      'runbook annotation at line 19: batched="sometimes" is not accepted (use yes: over its row limit it runs in batches of at most that many rows, or no: it is refused)',
      'runbook annotation at line 24: max_rows applies to SQL actions, and the block at line 25 has none; ignored',
    ]);
  });
});

describe('seed 004: the risk of each action', () => {
  /** Every action of the seed: its section (or title) and statement kind → risk. */
  it('rates whole-queue UPDATEs and clearing functions high, keyed and time-bounded ones medium', () => {
    const risks = seed('004').procedures.flatMap((p) =>
      actions(p).map((step) => [`${step.section ?? ''} / ${step.title}`, step.risk] as const),
    );
    const riskOf = (part: string) => {
      const found = risks.filter(([label]) => label.includes(part));
      if (found.length !== 1)
        throw new Error(`${found.length} actions match "${part}": ${risks.map(([l]) => l).join(' | ')}`);
      return found[0]![1];
    };
    // Option B "Clear All Queued Items": a function that empties the whole queue.
    expect(riskOf('Clear all queued items')).toBe('high');
    // The author calls it safe: a risk guessed from the function's name alone comes down to medium.
    expect(riskOf('Clear only failed items')).toBe('medium');
    // `WHERE status = 'failed'`: every failed item, however many.
    expect(riskOf('Re-queue all failed items')).toBe('high');
    expect(riskOf('Reset failed items to retry')).toBe('high');
    // Keyed: `WHERE id = '<queue-item-id>'`, `WHERE id = '<lot-id>'`.
    expect(riskOf('Re-queue failed item')).toBe('medium');
    expect(riskOf('Mark batch as completed')).toBe('medium');
    // Time-bounded archive deletes.
    expect(riskOf('Archive old system logs')).toBe('medium');
    expect(riskOf('Archive completed batches')).toBe('medium');
  });
});

describe('repairMojibake', () => {
  it('repairs UTF-8 read as Windows-1252', () => {
    expect(repairMojibake('ðŸš¨ Emergency')).toBe('🚨 Emergency');
    expect(repairMojibake('Logs â€” now â†’ Postgres')).toBe('Logs — now → Postgres');
  });

  it('repairs UTF-8 read as Mac OS Roman, with or without the Apple-logo lead byte', () => {
    expect(repairMojibake('üö® CRITICAL')).toBe('🚨 CRITICAL');
    expect(repairMojibake('\uf8ffüö® CRITICAL')).toBe('🚨 CRITICAL');
    expect(repairMojibake('‚ö° IMMEDIATE FIX')).toBe('⚡ IMMEDIATE FIX');
    expect(repairMojibake('Admin ‚Üí Data Review')).toBe('Admin → Data Review');
  });

  it('leaves ASCII, correct UTF-8 and unrepairable text as written', () => {
    expect(repairMojibake('plain ASCII: "quotes" & <tags>')).toBe('plain ASCII: "quotes" & <tags>');
    expect(repairMojibake('café → 🚨 — “déjà vu” für Größe')).toBe('café → 🚨 — “déjà vu” für Größe');
    // 🔍 is F0 9F 94 8D; 0x8D is undefined in Windows-1252 and was lost: no clean repair.
    expect(repairMojibake('ðŸ” Monitoring')).toBe('ðŸ” Monitoring');
  });
});

describe('slugify', () => {
  it('keeps ASCII letters and digits, joined by single hyphens', () => {
    expect(slugify('Hampton Mowerpower System Runbook')).toBe('hampton-mowerpower-system-runbook');
    expect(slugify('Issue: Duplicate Triggers Causing Conflicts')).toBe(
      'issue-duplicate-triggers-causing-conflicts',
    );
    expect(slugify('\uf8ffüö® CRITICAL: "Database API Connection Lost" Error')).toBe(
      'critical-database-api-connection-lost-error',
    );
    expect(slugify('ðŸš¨ Emergency -- Contacts  &  Escalation ')).toBe('emergency-contacts-escalation');
    expect(slugify('2. Shopify Sync Queue Stuck')).toBe('2-shopify-sync-queue-stuck');
    expect(slugify('🚨')).toBe('');
  });
});
