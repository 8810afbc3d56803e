import { parseSync } from 'libpg-query';
import { readRunbookThresholds } from '../../health/runbookThresholds.js';
import { plural } from '../../text.js';
import { SQL_LANGS } from '../markdown/codeSteps.js';
import type { ManualStep, Procedure, Runbook, Statement, Step } from '../model.js';
import { strings, walk } from '../sql/ast.js';
import { substitutePlaceholders } from '../sql/placeholders.js';
import type { LintFinding } from './findings.js';

/**
 * What can be said of a runbook without a database: columns PostgreSQL renamed, `SET` with a
 * parameter, example values left in statements, SQL fenced as another language. Each finding
 * names the file, line and procedure, and what to write instead.
 */
export function lintRunbook(runbook: Runbook): LintFinding[] {
  const findings: LintFinding[] = [];
  for (const procedure of runbook.procedures)
    for (const step of procedure.steps) findings.push(...lintStep(runbook, procedure, step));
  findings.push(...ignoredThresholds(runbook));
  return findings;
}

/**
 * Rows of the runbook's alert-threshold table that set no health threshold: a team reading
 * "Low Stock > 5 items" in its runbook must not believe the bot watches it.
 */
function ignoredThresholds(runbook: Runbook): LintFinding[] {
  return readRunbookThresholds(runbook).ignored.map((row) => ({
    severity: 'warning',
    rule: 'ignored-threshold',
    file: runbook.source.file,
    line: row.line,
    message: `alert threshold "${row.metric}" is ignored: ${row.reason}`,
    suggestion:
      'targets that name this runbook under `runbooks:` take only rows a health check measures (see docs/health-checks.md); watch this one elsewhere or drop the row',
  }));
}

function lintStep(runbook: Runbook, procedure: Procedure, step: Step): LintFinding[] {
  const at = { file: runbook.source.file, procedure: procedure.id };
  if (step.kind === 'manual') return [...sqlInOtherFence(step, at), ...unparsedSetWithPlaceholder(step, at)];
  const tree = parseOne(step.statement.sql);
  if (!tree) return [];
  const line = (needle: string | RegExp) => step.source.line + lineOffsetOf(step.statement.text, needle);
  return [
    ...renamedColumns(tree, step.statement, line, at),
    ...setWithParameter(tree, step.statement, at, step.source.line),
    ...exampleValues(tree, line, at),
  ];
}

type At = { file: string; procedure: string };
type LineOf = (needle: string | RegExp) => number;

export function parseOne(sql: string): Record<string, unknown> | undefined {
  try {
    const parsed = parseSync(sql) as { stmts?: Array<{ stmt: Record<string, unknown> }> };
    return parsed.stmts?.length === 1 ? parsed.stmts[0]!.stmt : undefined;
  } catch {
    return undefined;
  }
}

/** 0-based line of the first match in `text` (0 when absent). */
function lineOffsetOf(text: string, needle: string | RegExp): number {
  const index = typeof needle === 'string' ? text.indexOf(needle) : text.search(needle);
  if (index < 0) return 0;
  return text.slice(0, index).split('\n').length - 1;
}

/**
 * pg_stat_statements columns PostgreSQL renamed: `*_time` became `*_exec_time` in 13 (planning
 * time got its own columns), and the block I/O timings became `shared_blk_*_time` in 17.
 */
export const RENAMED_STAT_STATEMENTS_COLUMNS: Record<string, { now: string; since: number }> = {
  total_time: { now: 'total_exec_time', since: 13 },
  min_time: { now: 'min_exec_time', since: 13 },
  max_time: { now: 'max_exec_time', since: 13 },
  mean_time: { now: 'mean_exec_time', since: 13 },
  stddev_time: { now: 'stddev_exec_time', since: 13 },
  blk_read_time: { now: 'shared_blk_read_time', since: 17 },
  blk_write_time: { now: 'shared_blk_write_time', since: 17 },
};

/** The renamed pg_stat_statements columns a statement uses, when it reads pg_stat_statements. */
export function renamedColumnsUsed(tree: unknown): string[] {
  let readsStatStatements = false;
  const columns = new Set<string>();
  for (const [type, body] of walk(tree)) {
    if (type === 'RangeVar' && body.relname === 'pg_stat_statements') readsStatStatements = true;
    if (type === 'ColumnRef') {
      const name = strings(body.fields).at(-1);
      if (name && Object.hasOwn(RENAMED_STAT_STATEMENTS_COLUMNS, name)) columns.add(name);
    }
  }
  return readsStatStatements ? [...columns] : [];
}

function renamedColumns(tree: unknown, statement: Statement, line: LineOf, at: At): LintFinding[] {
  return renamedColumnsUsed(tree).map((column) => {
    const renamed = RENAMED_STAT_STATEMENTS_COLUMNS[column]!;
    return {
      severity: 'error',
      rule: 'renamed-column',
      ...at,
      line: line(new RegExp(`\\b${column}\\b`)),
      message: `pg_stat_statements.${column} was renamed ${renamed.now} in PostgreSQL ${renamed.since}; this ${statement.kind} fails there with "column ${column} does not exist"`,
      suggestion: `use ${renamed.now}`,
    };
  });
}

/**
 * `SET name = $1` and `SET ROLE $1` do not run: SET is a utility statement and takes no bind
 * parameters. `set_config(name, value, is_local)` is a function and does.
 */
function setWithParameter(
  tree: Record<string, unknown>,
  statement: Statement,
  at: At,
  line: number,
): LintFinding[] {
  const set = tree.VariableSetStmt as { name?: string; is_local?: boolean } | undefined;
  if (!set || statement.params.length === 0) return [];
  const name = set.name ?? 'setting';
  const placeholders = statement.params.map((param) => param.placeholder).join(', ');
  const local = set.is_local ? 'true' : 'false';
  const what = name === 'role' ? 'SET ROLE' : `SET ${name}`;
  return [
    {
      severity: 'error',
      rule: 'set-parameter',
      ...at,
      line,
      message: `${what} cannot take a bind parameter (${placeholders}); PostgreSQL refuses "${statement.sql}"`,
      suggestion: `write SELECT set_config('${name}', ${statement.params[0]!.placeholder}, ${local}), which takes it as a parameter${set.is_local ? '' : ' (true instead of false: for this transaction only)'}`,
    },
  ];
}

/**
 * Columns whose value picks one record: a literal compared to them is one incident's record
 * (`job_number = 'JB2025-0061'`), not something every run of the procedure means.
 */
const IDENTITY_COLUMN = /(^|_)(id|uuid|email|phone|mobile|number|sku)$/i;

interface ExampleValue {
  value: string;
  why: string;
  name: string;
}

/** Why a literal reads as an example wherever it is, or undefined. */
function exampleAnywhere(value: string): Omit<ExampleValue, 'value'> | undefined {
  if (/^[^\s@'"]+@[^\s@'"]+\.[a-z]{2,}$/i.test(value))
    return { why: 'an email address written into the runbook', name: 'user-email' };
  const yours = /^(?:your|my)[-_ ]([a-z][\w -]*)$/i.exec(value);
  if (yours) return { why: 'an example value', name: yours[1]!.replace(/[\s_]+/g, '-').toLowerCase() };
  if (/\b(example|placeholder|changeme|replace[-_ ]?me)\b/i.test(value))
    return { why: 'an example value', name: 'value' };
  if (/(^|[^a-z])x{3,}([^a-z]|$)/i.test(value)) return { why: 'a stand-in (xxx)', name: 'value' };
  // `[ARCHIVED]` appended to a note is a marker; `[user-id]` and `<lot-id>` are stand-ins.
  const bracket = /<([A-Za-z][\w -]*)>|\[([A-Za-z][\w -]*[a-z_ -][\w -]*)\]/.exec(value);
  if (bracket)
    return {
      why: `a placeholder (${bracket[0]}) inside a longer string, which is sent as written`,
      name: (bracket[1] ?? bracket[2]!)
        .trim()
        .replace(/[\s_]+/g, '-')
        .toLowerCase(),
    };
  return undefined;
}

function exampleValues(tree: unknown, line: LineOf, at: At): LintFinding[] {
  const found = new Map<string, ExampleValue>();
  const compared = new Set<unknown>();
  for (const [type, body] of walk(tree)) {
    if (type !== 'A_Expr') continue;
    const operator = strings(body.name)[0];
    if (operator !== '=' || (body.kind !== 'AEXPR_OP' && body.kind !== 'AEXPR_IN')) continue;
    const sides = [body.lexpr, body.rexpr];
    const column = sides
      .map((side) => strings((side as { ColumnRef?: { fields?: unknown } })?.ColumnRef?.fields).at(-1))
      .find(Boolean);
    if (!column || !IDENTITY_COLUMN.test(column)) continue;
    for (const side of sides)
      for (const [constType, constBody] of walk([side]))
        if (constType === 'A_Const') {
          compared.add(constBody);
          const value = constValue(constBody);
          if (value === undefined || found.has(value)) continue;
          const anywhere = exampleAnywhere(value);
          found.set(value, {
            value,
            why: anywhere?.why ?? `one record's ${column}, written into the runbook`,
            name: column.replace(/_/g, '-'),
          });
        }
  }
  for (const [type, body] of walk(tree)) {
    if (type !== 'A_Const' || compared.has(body)) continue;
    const value = constValue(body);
    if (value === undefined || found.has(value)) continue;
    const anywhere = exampleAnywhere(value);
    if (anywhere) found.set(value, { value, ...anywhere });
  }
  return [...found.values()].map((example) => ({
    severity: 'warning',
    rule: 'example-value',
    ...at,
    line: line(`'${example.value.replace(/'/g, "''")}'`),
    message: `'${example.value}' looks like ${example.why}; every run would use it as written`,
    suggestion: `if it stands for a value given at run time, mark it as a parameter: '<${example.name}>'`,
  }));
}

/** A string literal's text (numbers are left alone: `= 0` is rarely an example). */
function constValue(node: Record<string, unknown>): string | undefined {
  const text = (node.sval as { sval?: string } | undefined)?.sval;
  return typeof text === 'string' ? text : undefined;
}

/** `SET ROLE <role>`, `SET x TO [value]`: placeholders the parser cannot take, so the block stayed manual. */
const SET_PLACEHOLDER =
  /^\s*SET\s+(?:LOCAL\s+|SESSION\s+)?(ROLE\s+|[\w."]+\s*(?:=|\bTO\b)\s*)('?(?:<[^>\n]+>|\[[^\]\n]+\]|\{\{[^}\n]+\}\})'?)/i;

function unparsedSetWithPlaceholder(step: ManualStep, at: At): LintFinding[] {
  if (!step.code || !SQL_LANGS.has(step.code.lang)) return [];
  return step.code.text.split('\n').flatMap((text, index) => {
    const match = SET_PLACEHOLDER.exec(text);
    if (!match) return [];
    const target = match[1]!
      .trim()
      .replace(/\s*(=|TO)$/i, '')
      .trim();
    const name = /^ROLE$/i.test(target) ? 'role' : target;
    return [
      {
        severity: 'error' as const,
        rule: 'set-parameter' as const,
        ...at,
        line: step.source.line + 1 + index,
        message: `${name === 'role' ? 'SET ROLE' : `SET ${name}`} cannot take a placeholder (${match[2]}): SET takes no bind parameter`,
        suggestion: `write SELECT set_config('${name}', '${match[2]!.replace(/^'|'$/g, '')}', false), which takes it as a parameter (true instead of false: for this transaction only)`,
      },
    ];
  });
}

const COMMENT_LINE = /^\s*(\/\/|#(?!\w)|--)/;

/**
 * A TypeScript, shell or other non-SQL fence whose content (its `//` and `#` comment lines
 * aside) parses as SQL: the author meant SQL, but a non-SQL fence is a manual step.
 */
function sqlInOtherFence(step: ManualStep, at: At): LintFinding[] {
  const code = step.code;
  if (!code?.lang || !code.text.trim()) return [];
  const kept = code.text
    .split('\n')
    .map((text) => (COMMENT_LINE.test(text) ? '' : text))
    .join('\n');
  if (!kept.trim()) return [];
  let kinds: string[];
  try {
    const parsed = parseSync(substitutePlaceholders(kept).sql) as { stmts?: Array<{ stmt: object }> };
    kinds = (parsed.stmts ?? []).map(({ stmt }) => Object.keys(stmt)[0] ?? '');
  } catch {
    return [];
  }
  if (kinds.length === 0) return [];
  const firstSql = kept.split('\n').findIndex((text) => text.trim() !== '');
  const comments = code.text.split('\n').some((text) => /^\s*\/\//.test(text));
  return [
    {
      severity: 'warning',
      rule: 'sql-in-other-fence',
      ...at,
      line: step.source.line + 1 + Math.max(0, firstSql),
      message: `this ${code.lang} block looks like SQL (${plural(kinds.length, 'statement')}); as ${code.lang} it is a manual step the bot never runs`,
      suggestion: `fence it as sql to make it a step${comments ? ', with its // comments written as --' : ''}`,
    },
  ];
}
