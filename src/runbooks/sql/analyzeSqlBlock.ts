import { loadModule, parseSync } from 'libpg-query';
import type { Parameter, Risk, SessionSetting, Statement } from '../model.js';
import { classify, type StatementNode } from './classify.js';
import { substituteDecidingIdentifiers } from './identifierPlaceholders.js';

export { validateParameterValue } from './placeholders.js';

export interface AnalyzedStatement {
  statement: Statement;
  /** The `--` comment lines directly above the statement, joined by spaces. */
  comment?: string;
  /** 0-based line within the block where the statement starts (comments excluded). */
  lineOffset: number;
  class: 'check' | 'action';
  actionReasons: string[];
  risk?: Risk;
  riskReasons: string[];
  noTransaction: boolean;
  /** For a `SET` the next statement may run under: the setting. */
  setting?: SessionSetting;
  /** See Classification.unknownFunctions. */
  unknownFunctions?: string[];
}

export type BlockAnalysis =
  | { ok: true; statements: AnalyzedStatement[] }
  | { ok: false; error: string; line?: number };

let parserReady: Promise<void> | undefined;

/** The parser is WebAssembly: load it once before the first (synchronous) analysis. */
export function loadSqlParser(): Promise<void> {
  parserReady ??= loadModule();
  return parserReady;
}

interface ParsedStatement {
  stmt: StatementNode;
  stmt_location?: number;
  stmt_len?: number;
}

/**
 * One fenced SQL block → its statements, each with placeholders made bind parameters,
 * classified as Check or Action. A block the Postgres parser rejects is reported, not
 * thrown: the caller keeps it as a manual step.
 */
export function analyzeSqlBlock(text: string, options: { readOnlyFunctions?: string[] } = {}): BlockAnalysis {
  const readOnly = new Set((options.readOnlyFunctions ?? []).map((name) => name.toLowerCase()));
  // The parser refuses an empty string; a block with nothing in it has no statements.
  if (text.trim() === '') return { ok: true, statements: [] };
  const whole = substituteDecidingIdentifiers(text);
  let parsed: { stmts?: ParsedStatement[] };
  try {
    parsed = parseSync(whole.sql) as { stmts?: ParsedStatement[] };
  } catch (err) {
    return { ok: false, error: (err as Error).message, line: errorLine(err, whole.sql) };
  }
  const bytes = Buffer.from(whole.sql, 'utf8');
  const statements: AnalyzedStatement[] = [];
  // The parser's locations skip the comments before a statement; they are read from the
  // text between the previous statement and this one.
  let previousEnd = 0;
  for (const entry of parsed.stmts ?? []) {
    // Locations are byte offsets into the UTF-8 text; back to characters, then to the input.
    const startByte = entry.stmt_location ?? 0;
    const endByte = entry.stmt_len ? startByte + entry.stmt_len : bytes.length;
    const start = bytes.subarray(0, startByte).toString('utf8').length;
    const end = start + bytes.subarray(startByte, endByte).toString('utf8').length;
    const originalStart = whole.origin[start] ?? text.length;
    const originalEnd = end < whole.origin.length ? whole.origin[end]! : text.length;
    const chunkStart = Math.min(previousEnd, originalStart);
    previousEnd = originalEnd;
    const { comment, body, bodyOffset } = splitLeadingComments(text.slice(chunkStart, originalEnd));
    if (!body) continue;
    // Each statement runs alone, so it gets its own `$1…$n` numbering.
    const own = substituteDecidingIdentifiers(body);
    // The block's parse tree already holds this statement; only its `$n` numbers differ,
    // which classification never reads.
    const verdict = classify(entry.stmt, readOnly);
    const setting = sessionSetting(entry.stmt, own.params);
    statements.push({
      ...(setting ? { setting } : {}),
      statement: {
        text: body,
        sql: own.sql,
        params: own.params,
        ...(own.identifiers.length > 0 ? { identifiers: own.identifiers } : {}),
        kind: verdict.kind,
        functions: verdict.functions,
      },
      comment,
      lineOffset: lineOf(text, chunkStart + bodyOffset),
      class: verdict.class,
      actionReasons: verdict.actionReasons,
      risk: verdict.risk,
      riskReasons: verdict.riskReasons,
      noTransaction: verdict.noTransaction,
      ...(verdict.unknownFunctions ? { unknownFunctions: verdict.unknownFunctions } : {}),
    });
  }
  return { ok: true, statements: underSessions(statements) };
}

/** Settings a step may run under: who it acts as, and the request's own settings (dotted names). */
const SESSION_SETTINGS = new Set(['role', 'search_path', 'timezone']);

/**
 * `SET ROLE authenticated` or `SET request.jwt.claim.sub = '[user-uuid]'` as a setting the next
 * statement runs under; undefined for any other statement (and for RESET, SET DEFAULT,
 * SESSION AUTHORIZATION, timeouts: those stay actions of their own).
 */
function sessionSetting(stmt: StatementNode, params: Parameter[]): SessionSetting | undefined {
  const set = (stmt as { VariableSetStmt?: { kind?: string; name?: string; args?: unknown[] } })
    .VariableSetStmt;
  if (set?.kind !== 'VAR_SET_VALUE' || !set.name) return undefined;
  const name = set.name.toLowerCase();
  if (!SESSION_SETTINGS.has(name) && !name.includes('.')) return undefined;
  const values = (set.args ?? []).map((arg) => constantOrParam(arg, params));
  if (values.length === 0 || values.some((value) => value === undefined)) return undefined;
  if (name === 'role') {
    const [role] = values;
    // A role from a placeholder cannot be set: SET takes no bind parameter.
    return values.length === 1 && role && 'text' in role && role.text.toLowerCase() !== 'none'
      ? { kind: 'role', role: role.text }
      : undefined;
  }
  if (values.length === 1) return { kind: 'setting', name: set.name, value: values[0]! };
  if (values.every((value) => value && 'text' in value))
    return {
      kind: 'setting',
      name: set.name,
      value: { text: values.map((value) => (value as { text: string }).text).join(', ') },
    };
  return undefined;
}

function constantOrParam(
  arg: unknown,
  params: Parameter[],
): { text: string } | { param: Parameter } | undefined {
  const node = arg as {
    A_Const?: { sval?: { sval?: string }; ival?: { ival?: number }; fval?: { fval?: string } };
    ParamRef?: { number?: number };
  };
  if (node.ParamRef?.number) {
    const param = params[node.ParamRef.number - 1];
    return param ? { param } : undefined;
  }
  const constant = node.A_Const;
  if (!constant) return undefined;
  if (constant.sval) return { text: constant.sval.sval ?? '' };
  if (constant.ival) return { text: String(constant.ival.ival ?? 0) };
  if (constant.fval?.fval !== undefined) return { text: constant.fval.fval };
  return undefined;
}

/**
 * Settings written just before a statement are what it runs under: `SET ROLE authenticated;
 * SET request.jwt.claim.sub = '[user-uuid]'; SELECT …` is one step that reads as that user,
 * not three independent actions (whose role and claim would apply to nothing). Settings with
 * no statement after them stay steps of their own.
 */
function underSessions(statements: AnalyzedStatement[]): AnalyzedStatement[] {
  const result: AnalyzedStatement[] = [];
  let pending: AnalyzedStatement[] = [];
  for (const statement of statements) {
    if (statement.setting) {
      pending.push(statement);
      continue;
    }
    if (pending.length === 0) {
      result.push(statement);
      continue;
    }
    const [first] = pending;
    result.push({
      ...statement,
      statement: {
        ...statement.statement,
        text: [...pending.map((setter) => `${setter.statement.text};`), statement.statement.text].join('\n'),
        session: pending.map((setter) => setter.setting!),
      },
      // Titled by its own comment ("Try the failing operation") when it has one.
      comment: statement.comment ?? first!.comment,
    });
    pending = [];
  }
  return [...result, ...pending];
}

/**
 * The comments before a statement, apart from its text; trailing `;` dropped. Only the group
 * nearest the statement is kept: `-- Step 2` / blank line / `-- Reset the queue` / the
 * statement gives "Reset the queue". `/* … *\/` comments on lines of their own count too.
 */
function splitLeadingComments(chunk: string): { comment?: string; body: string; bodyOffset: number } {
  let comments: string[] = [];
  let blankSince = false;
  // The previous statement's `;` and a comment on its line belong to it.
  let offset = /^\s*;(?:[ \t]*--[^\n]*)?/.exec(chunk)?.[0].length ?? 0;
  const note = (text: string) => {
    if (blankSince) comments = [];
    blankSince = false;
    if (text) comments.push(text);
  };
  while (offset < chunk.length) {
    const lineEnd = chunk.indexOf('\n', offset);
    const line = chunk.slice(offset, lineEnd < 0 ? chunk.length : lineEnd);
    const trimmed = line.trim();
    if (trimmed === '' || trimmed === ';') {
      if (trimmed === ';') comments = [];
      blankSince = comments.length > 0;
    } else if (trimmed.startsWith('--')) {
      note(trimmed.replace(/^--+\s*/, ''));
    } else if (trimmed.startsWith('/*')) {
      const start = offset + line.indexOf('/*');
      const close = chunk.indexOf('*/', start + 2);
      const after = close < 0 ? -1 : chunk.indexOf('\n', close);
      // A block comment followed by code on its last line is part of the statement.
      if (close < 0 || chunk.slice(close + 2, after < 0 ? chunk.length : after).trim() !== '') break;
      note(
        chunk
          .slice(start + 2, close)
          .replace(/^\s*\*+/gm, '')
          .replace(/\s+/g, ' ')
          .trim(),
      );
      offset = after < 0 ? chunk.length : after + 1;
      continue;
    } else break;
    offset = lineEnd < 0 ? chunk.length : lineEnd + 1;
  }
  const rest = chunk.slice(offset);
  const leading = rest.length - rest.trimStart().length;
  const body = rest.trim().replace(/;\s*$/, '').trim();
  const comment = comments.join(' ');
  return { comment: comment || undefined, body, bodyOffset: offset + leading };
}

function lineOf(text: string, index: number): number {
  let line = 0;
  for (let i = 0; i < index && i < text.length; i++) if (text[i] === '\n') line += 1;
  return line;
}

function errorLine(err: unknown, sql: string): number | undefined {
  const position = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails?.cursorPosition;
  if (position === undefined) return undefined;
  // The cursor counts bytes of the UTF-8 text.
  const prefix = Buffer.from(sql, 'utf8').subarray(0, Math.max(0, position)).toString('utf8');
  return lineOf(prefix, prefix.length);
}
