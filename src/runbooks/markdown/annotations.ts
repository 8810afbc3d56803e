/**
 * `<!-- runbook: key=value … -->` comments: what an author can tell the bot about the next
 * code block that the SQL alone does not say. Invisible when the Markdown is rendered.
 *
 *   risk=low|medium|high   overrides the derived risk of the block's actions
 *   approvers=N            approvals each action needs (1–10)
 *   readonly=fn1,fn2       functions known to be read-only, so `SELECT fn1()` is a check
 *   title="…"              the steps' title
 *   max_rows=N             rows the block's DML may change (1–1000000), instead of the target's limit
 *   batched=yes|no         whether its UPDATE or DELETE over the row limit may run in batches of
 *                          at most that many rows, each committed (instead of the target's batched_dml)
 *   signal_scope=server    its pg_terminate_backend / pg_cancel_backend may reach backends of
 *                          every database on the server, not only the target's (the default)
 *   expect="…"             what the block's check should return ("0 rows", "count = 0",
 *                          "status = 'ok'"): its result gets a met / not met verdict
 *
 * A bad key or value is a warning naming what is accepted; the rest of the comment still applies.
 */
import { parseExpectation } from '../expectations.js';
import type { ExpectCondition, LoaderWarning, Risk, SignalScope } from '../model.js';

export interface Annotation {
  line: number;
  risk?: Risk;
  approvers?: number;
  readonly: string[];
  title?: string;
  maxRows?: number;
  batched?: boolean;
  signalScope?: SignalScope;
  expect?: { text: string; conditions: ExpectCondition[] };
}

const ANNOTATION = /^<!--\s*runbook\s*:([\s\S]*?)-->\s*$/i;
const TOKEN = /([A-Za-z_][\w-]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+))|(\S+)/g;
const FUNCTION_NAME = /^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)?$/;
const KEYS = 'risk, approvers, readonly, title, max_rows, batched, signal_scope, expect';
/** The most rows an annotation may allow one action to change. */
export const MAX_ROWS_CEILING = 1_000_000;

/** The annotation in an HTML node, or undefined when the comment is not addressed to the bot. */
export function parseAnnotation(
  html: string,
  line: number,
): { annotation: Annotation; warnings: LoaderWarning[] } | undefined {
  const body = ANNOTATION.exec(html.trim())?.[1];
  if (body === undefined) return undefined;
  const annotation: Annotation = { line, readonly: [] };
  const warnings: LoaderWarning[] = [];
  const warn = (message: string) =>
    warnings.push({ line, message: `runbook annotation at line ${line}: ${message}` });

  for (const match of body.matchAll(TOKEN)) {
    const [, rawKey, doubleQuoted, singleQuoted, bare, stray] = match;
    if (stray !== undefined || rawKey === undefined) {
      warn(`"${stray}" is not key=value (accepted keys: ${KEYS})`);
      continue;
    }
    const key = rawKey.toLowerCase();
    const value = (doubleQuoted ?? singleQuoted ?? bare ?? '').trim();
    switch (key) {
      case 'risk': {
        const risk = value.toLowerCase();
        if (risk === 'low' || risk === 'medium' || risk === 'high') annotation.risk = risk;
        else warn(`risk="${value}" is not accepted (use low, medium or high)`);
        break;
      }
      case 'approvers': {
        const count = /^\d+$/.test(value) ? Number(value) : Number.NaN;
        if (count >= 1 && count <= 10) annotation.approvers = count;
        else warn(`approvers="${value}" is not accepted (use a whole number from 1 to 10)`);
        break;
      }
      case 'readonly': {
        const names = value
          .split(',')
          .map((name) => name.trim().toLowerCase())
          .filter(Boolean);
        const bad = names.filter((name) => !FUNCTION_NAME.test(name));
        if (bad.length > 0 || names.length === 0) {
          warn(
            `readonly="${value}" is not accepted (use function names separated by commas, e.g. readonly=check_health,public.stats)`,
          );
        }
        annotation.readonly.push(...names.filter((name) => FUNCTION_NAME.test(name)));
        break;
      }
      case 'max_rows': {
        const rows = /^\d+$/.test(value.replaceAll('_', '')) ? Number(value.replaceAll('_', '')) : Number.NaN;
        if (rows >= 1 && rows <= MAX_ROWS_CEILING) annotation.maxRows = rows;
        else
          warn(
            `max_rows="${value}" is not accepted (use a whole number from 1 to ${MAX_ROWS_CEILING}, e.g. max_rows=5000)`,
          );
        break;
      }
      case 'batched': {
        const said = value.toLowerCase();
        if (said === 'yes' || said === 'no') annotation.batched = said === 'yes';
        else
          warn(
            `batched="${value}" is not accepted (use yes: over its row limit it runs in batches of at most that many rows, or no: it is refused)`,
          );
        break;
      }
      case 'signal_scope': {
        const scope = value.toLowerCase();
        if (scope === 'database' || scope === 'server') annotation.signalScope = scope;
        else
          warn(
            `signal_scope="${value}" is not accepted (use database, the default: only the target's database, or server: every database on the server)`,
          );
        break;
      }
      case 'expect': {
        const parsed = parseExpectation(value);
        if (parsed.ok)
          annotation.expect = { text: value.replace(/\s+/g, ' '), conditions: parsed.conditions };
        else warn(`expect="${value}" is not accepted: ${parsed.error}`);
        break;
      }
      case 'title':
        if (value) annotation.title = value;
        else warn('title is empty (use title="Short step title")');
        break;
      default:
        warn(`unknown key "${rawKey}" (accepted: ${KEYS})`);
    }
  }
  return { annotation, warnings };
}
