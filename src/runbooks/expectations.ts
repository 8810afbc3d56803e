/**
 * What a check should return, and whether it did. An author writes it next to the block
 * (`<!-- runbook: expect="0 rows" -->`), or it is derived from their own words when these say
 * one thing only ("-- Should return no rows", "-- Expected: 0"). A check's result then gets a
 * verdict: met, or not met with what was expected and what came back.
 */
import { clip, plural } from '../text.js';
import type { ComparisonOp, ExpectCondition } from './model.js';

/** A check's result as far as a verdict needs it. */
export interface RowsResult {
  columns: string[];
  rows: string[][];
  rowCount: number;
  truncated: boolean;
}

export interface Verdict {
  met: boolean;
  /** The expectation as written, e.g. `count = 0`. */
  expected: string;
  /** What came back, in the expectation's terms, e.g. `count = 12`, `3 rows`. */
  got: string;
}

export const EXPECT_EXAMPLES =
  'e.g. expect="0 rows", expect="at least 1 row", expect="count = 0", expect="status = \'ok\'", expect="name is not null"; join several with "and"';

const OPS: Record<string, ComparisonOp> = {
  '=': '=',
  '==': '=',
  '!=': '!=',
  '<>': '!=',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
};
const WORD_OPS: Record<string, ComparisonOp> = {
  'at least': '>=',
  'at most': '<=',
  'more than': '>',
  'fewer than': '<',
  'less than': '<',
  exactly: '=',
};
const NUMBER_WORDS: Record<string, number> = { no: 0, zero: 0, one: 1, a: 1, an: 1, 'a single': 1 };

const COLUMN = String.raw`([A-Za-z_][\w$]*|"(?:[^"]|"")+")`;
const OP = '(==|!=|<>|<=|>=|=|<|>)';
const LITERAL = String.raw`('(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false|null)`;
const COUNT = String.raw`(\d+|no|zero|one|an?|a single)`;

const ROWS = new RegExp(
  String.raw`^(?:(at least|at most|more than|fewer than|less than|exactly)\s+|${OP}\s*)?${COUNT}\s+(?:rows?|results?)$`,
  'i',
);
const ROWS_OP = new RegExp(String.raw`^(?:rows?|row_count|rowcount)\s*${OP}\s*(\d+)$`, 'i');
const SOME_ROWS = /^(?:some|any) rows?$/i;
const IS_NULL = new RegExp(String.raw`^${COLUMN}\s+is\s+(not\s+)?null$`, 'i');
const COMPARE = new RegExp(String.raw`^${COLUMN}\s*${OP}\s*${LITERAL}$`, 'i');
const LONE = new RegExp(`^${LITERAL}$`, 'i');

/** An annotation's `expect=` value as conditions, or what is wrong with it. */
export function parseExpectation(
  text: string,
): { ok: true; conditions: ExpectCondition[] } | { ok: false; error: string } {
  const parts = splitAnd(text.trim());
  if (parts.length === 0 || parts.some((part) => part === ''))
    return { ok: false, error: `expect is empty (${EXPECT_EXAMPLES})` };
  const conditions: ExpectCondition[] = [];
  for (const part of parts) {
    const condition = parseCondition(part);
    if (typeof condition === 'string') return { ok: false, error: condition };
    conditions.push(condition);
  }
  return { ok: true, conditions };
}

function parseCondition(part: string): ExpectCondition | string {
  const rows = ROWS.exec(part);
  if (rows) {
    const [, words, op, count] = rows;
    return {
      kind: 'rows',
      op: words ? WORD_OPS[words.toLowerCase()]! : op ? OPS[op]! : '=',
      count: countOf(count!),
    };
  }
  const rowsOp = ROWS_OP.exec(part);
  if (rowsOp) return { kind: 'rows', op: OPS[rowsOp[1]!]!, count: Number(rowsOp[2]) };
  if (SOME_ROWS.test(part)) return { kind: 'rows', op: '>=', count: 1 };
  const isNull = IS_NULL.exec(part);
  if (isNull) return { kind: 'null', column: columnName(isNull[1]!), isNull: !isNull[2] };
  const compare = COMPARE.exec(part);
  if (compare) {
    const [, column, op, literal] = compare;
    if (literal!.toLowerCase() === 'null')
      return `"${part}" compares with NULL, which never matches (write ${column} is null or ${column} is not null)`;
    return { kind: 'value', column: columnName(column!), op: OPS[op!]!, ...literalOf(literal!) };
  }
  const lone = LONE.exec(part);
  if (lone && lone[1]!.toLowerCase() !== 'null') return { kind: 'value', op: '=', ...literalOf(lone[1]!) };
  const bare = new RegExp(String.raw`^${COLUMN}\s*${OP}\s*([A-Za-z_]\w*)$`).exec(part);
  if (bare)
    return `"${part}": quote text values (${bare[1]} ${bare[2]} '${bare[3]}'); unquoted words are only true, false and numbers`;
  return `"${part}" is not an expectation (${EXPECT_EXAMPLES})`;
}

/** Splits on `and` outside quotes. */
function splitAnd(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (quote) {
      if (char === quote) quote = undefined;
      current += char;
      continue;
    }
    if (char === "'" || char === '"') quote = char;
    const rest = text.slice(i);
    const and = /^\s+and\s+/i.exec(rest);
    if (and) {
      parts.push(current.trim());
      current = '';
      i += and[0].length - 1;
      continue;
    }
    current += char;
  }
  if (current.trim() !== '' || parts.length > 0) parts.push(current.trim());
  return parts;
}

function countOf(word: string): number {
  return /^\d+$/.test(word) ? Number(word) : NUMBER_WORDS[word.toLowerCase()]!;
}

function columnName(written: string): string {
  return written.startsWith('"') ? written.slice(1, -1).replaceAll('""', '"') : written.toLowerCase();
}

function literalOf(written: string): { value: string; quoted: boolean } {
  if (written.startsWith("'")) return { value: written.slice(1, -1).replaceAll("''", "'"), quoted: true };
  return { value: written.toLowerCase(), quoted: false };
}

// ---- derived from prose -------------------------------------------------------------------

const NO_ROWS = [
  /\b(?:should|must|will)\s+(?:return|give|show|find|list|yield)\s+(?:no|zero|0)\s+(?:rows?|results?|records?|entries)\b/,
  /\b(?:should|must)\s+(?:not|n't)\s+return\s+any\s+(?:rows?|results?|records?)\b/,
  /\b(?:should|must)\s+return\s+nothing\b/,
  /\b(?:should|must)\s+(?:be|come back)\s+empty\b/,
  /^expected(?:\s+result)?\s*:\s*(?:no|zero|0)\s+rows?$/,
  /^expected(?:\s+result)?\s*:\s*empty$/,
];
const N_ROWS =
  /\b(?:should|must)\s+return\s+(?:exactly\s+)?(\d+|one|a single)\s+rows?(?:\s+(?:only|exactly))?$/;
const EXPECTED_VALUE = /^expected(?:\s+result)?\s*:\s*(-?\d+(?:\.\d+)?)$/;
const POPULATED =
  /^(?:all|all rows|every row|each row|they all)\s+should\s+(?:all\s+)?have\s+([a-z_][a-z0-9_]*)\s+(?:populated|set|filled(?:\s+in)?|present)$/;

/**
 * An expectation an author's sentence states unambiguously, or undefined. Only what can be
 * read one way counts: "Should return no rows", "Expected: 0", "All should have
 * customer_name populated" (when the statement names customer_name). "Should return the
 * correct customer" says what to look at, not what to compare, and gives nothing.
 */
export function proseExpectation(
  sentence: string,
  statementText: string,
): { text: string; conditions: ExpectCondition[] } | undefined {
  const said = sentence
    .replace(/^\s*(?:--+|#+|\/\/+)\s*/, '')
    .trim()
    .toLowerCase()
    .replace(/[.!\s]+$/, '')
    .replace(/\s+/g, ' ');
  if (NO_ROWS.some((pattern) => pattern.test(said)))
    return { text: '0 rows', conditions: [{ kind: 'rows', op: '=', count: 0 }] };
  const rows = N_ROWS.exec(said);
  if (rows) {
    const count = countOf(rows[1]!);
    return {
      text: plural(count, 'row'),
      conditions: [{ kind: 'rows', op: '=', count }],
    };
  }
  const value = EXPECTED_VALUE.exec(said);
  if (value)
    return { text: value[1]!, conditions: [{ kind: 'value', op: '=', value: value[1]!, quoted: false }] };
  const populated = POPULATED.exec(said);
  if (populated) {
    const column = populated[1]!;
    // Only a column the statement names: otherwise it is about something else.
    if (new RegExp(String.raw`\b${column}\b`, 'i').test(statementText))
      return { text: `${column} is not null`, conditions: [{ kind: 'null', column, isNull: false }] };
  }
  return undefined;
}

// ---- verdicts -----------------------------------------------------------------------------

/** Met when every condition holds on the result; otherwise says which did not and what came back. */
export function judge(expected: string, conditions: ExpectCondition[], result: RowsResult): Verdict {
  const outcomes = conditions.map((condition) => judgeCondition(condition, result));
  const failing = outcomes.filter((outcome) => !outcome.met);
  const shown = failing.length > 0 ? failing : outcomes;
  return { met: failing.length === 0, expected, got: shown.map((outcome) => outcome.got).join('; ') };
}

function judgeCondition(condition: ExpectCondition, result: RowsResult): { met: boolean; got: string } {
  if (condition.kind === 'rows')
    return {
      met: compareNumbers(result.rowCount, condition.op, condition.count),
      got: plural(result.rowCount, 'row'),
    };
  if (condition.kind === 'value' && condition.column === undefined) {
    if (result.rowCount !== 1 || result.columns.length !== 1)
      return {
        met: false,
        got: `${plural(result.rowCount, 'row')} of ${plural(result.columns.length, 'column')}, not one value`,
      };
    const cell = result.rows[0]?.[0] ?? 'NULL';
    return { met: holds(cell, condition), got: shownCell(cell) };
  }
  const column = condition.column!;
  const index = result.columns.findIndex((name) => name.toLowerCase() === column.toLowerCase());
  if (index < 0)
    return {
      met: false,
      got: `no column ${column} in the result (columns: ${result.columns.join(', ') || 'none'})`,
    };
  if (result.rows.length === 0) return { met: false, got: 'no rows to compare' };
  const test = (cell: string) =>
    condition.kind === 'null' ? (cell === 'NULL') === condition.isNull : holds(cell, condition);
  const bad = result.rows.filter((row) => !test(row[index] ?? 'NULL'));
  const judged = result.truncated ? ` (the first ${result.rows.length} of ${result.rowCount} judged)` : '';
  const name = result.columns[index]!;
  if (bad.length === 0) {
    const cell = result.rows[0]![index] ?? 'NULL';
    return {
      met: true,
      got:
        result.rows.length === 1
          ? `${name} ${condition.kind === 'null' ? (cell === 'NULL' ? 'is null' : 'is not null') : `= ${shownCell(cell)}`}`
          : `${condition.kind === 'null' ? `${name} ${condition.isNull ? 'is null' : 'is not null'}` : `${name} ${condition.op} ${condition.value}`} in all ${result.rows.length} rows${judged}`,
    };
  }
  const first = bad[0]![index] ?? 'NULL';
  const value = condition.kind === 'null' ? (first === 'NULL' ? 'NULL' : shownCell(first)) : shownCell(first);
  return {
    met: false,
    got:
      result.rows.length === 1
        ? `${name} = ${value}`
        : `${name} = ${value} in ${bad.length} of ${result.rows.length} rows${judged}`,
  };
}

function holds(cell: string, condition: Extract<ExpectCondition, { kind: 'value' }>): boolean {
  const { op, value, quoted } = condition;
  if (!quoted && (value === 'true' || value === 'false')) {
    const truth = ({ t: 'true', true: 'true', f: 'false', false: 'false' } as Record<string, string>)[
      cell.toLowerCase()
    ];
    if (truth === undefined) return false;
    return op === '=' ? truth === value : op === '!=' ? truth !== value : false;
  }
  if (!quoted) {
    if (cell === 'NULL' || cell.trim() === '') return false;
    const number = Number(cell);
    return Number.isFinite(number) && compareNumbers(number, op, Number(value));
  }
  if (cell === 'NULL') return false;
  switch (op) {
    case '=':
      return cell === value;
    case '!=':
      return cell !== value;
    case '<':
      return cell < value;
    case '<=':
      return cell <= value;
    case '>':
      return cell > value;
    case '>=':
      return cell >= value;
  }
}

function compareNumbers(left: number, op: ComparisonOp, right: number): boolean {
  switch (op) {
    case '=':
      return left === right;
    case '!=':
      return left !== right;
    case '<':
      return left < right;
    case '<=':
      return left <= right;
    case '>':
      return left > right;
    case '>=':
      return left >= right;
  }
}

function shownCell(cell: string): string {
  if (cell === 'NULL') return 'NULL';
  return /^-?\d+(\.\d+)?$/.test(cell) ? cell : `'${clip(cell, 60)}'`;
}

/**
 * A result in one line, the same shape whatever it holds: `0 rows`, or `2 rows: status=failed,
 * count=3; status=queued, count=500`, so a before and an after read side by side.
 */
export function describeRows(result: RowsResult, maxRows = 3, maxColumns = 4): string {
  const count = plural(result.rowCount, 'row');
  if (result.rows.length === 0) return count;
  const shown = result.rows.slice(0, maxRows).map((row) =>
    result.columns
      .slice(0, maxColumns)
      .map((column, i) => `${column}=${clip(row[i] ?? 'NULL', 40)}`)
      .join(', '),
  );
  const more = result.rowCount > maxRows ? '; …' : '';
  return `${count}: ${shown.join('; ')}${more}`;
}
