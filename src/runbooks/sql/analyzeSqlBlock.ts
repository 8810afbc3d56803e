import { loadModule, parseSync } from 'libpg-query';
import type { Risk, Statement } from '../model.js';
import { classify, type StatementNode } from './classify.js';
import { substitutePlaceholders } from './placeholders.js';

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
  const whole = substitutePlaceholders(text);
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
    const own = substitutePlaceholders(body);
    const node = (parseSync(own.sql) as { stmts: ParsedStatement[] }).stmts[0]!.stmt;
    const verdict = classify(node, readOnly);
    statements.push({
      statement: {
        text: body,
        sql: own.sql,
        params: own.params,
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
    });
  }
  return { ok: true, statements };
}

/** `-- comment` lines (and blank lines) before a statement, apart from its text; trailing `;` dropped. */
function splitLeadingComments(chunk: string): { comment?: string; body: string; bodyOffset: number } {
  const comments: string[] = [];
  // The previous statement's `;` and a comment on its line belong to it.
  let offset = /^\s*;(?:[ \t]*--[^\n]*)?/.exec(chunk)?.[0].length ?? 0;
  for (const line of chunk.slice(offset).split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed === ';') {
      if (trimmed === ';') comments.length = 0;
    } else if (trimmed.startsWith('--')) {
      comments.push(trimmed.replace(/^--+\s*/, ''));
    } else break;
    offset += line.length + 1;
  }
  const rest = chunk.slice(offset);
  const leading = rest.length - rest.trimStart().length;
  const body = rest.trim().replace(/;\s*$/, '').trim();
  const comment = comments.filter(Boolean).join(' ');
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
