import type { Risk } from '../model.js';
import { strings, walk } from './ast.js';
import { dmlRisk } from './dmlRisk.js';
import { knownEffect, normalizeFunctionName, READ_SAFE_FUNCTIONS } from './readSafeFunctions.js';
import { statementKind } from './statementKind.js';
import { Verdict } from './verdict.js';

/** One parsed statement node from libpg-query: `{ SelectStmt: {…} }`, `{ UpdateStmt: {…} }`, … */
export type StatementNode = Record<string, unknown>;

export interface Classification {
  class: 'check' | 'action';
  kind: string;
  functions: string[];
  actionReasons: string[];
  risk?: Risk;
  riskReasons: string[];
  noTransaction: boolean;
  /**
   * An action only because it calls these functions, which the bot does not know: the target's
   * catalog decides at run time (STABLE or IMMUTABLE, and a body that only reads: a check).
   */
  unknownFunctions?: string[];
}

/**
 * The author's `readonly=` list, matched with or without a schema: `check_system_health`
 * vouches for `public.check_system_health()` and the other way round.
 */
function vouchedFor(name: string, readOnlyFunctions: ReadonlySet<string>): boolean {
  if (readOnlyFunctions.has(name)) return true;
  const bare = name.slice(name.lastIndexOf('.') + 1);
  for (const declared of readOnlyFunctions)
    if (declared.slice(declared.lastIndexOf('.') + 1) === bare) return true;
  return false;
}

/**
 * `OPERATOR(myschema.===)`: an operator outside pg_catalog is a function call in disguise.
 * Plain `=`, `<`, `->>`… resolve to pg_catalog first on a normal search_path.
 */
function qualifiedOperators(node: unknown): string[] {
  const names: string[] = [];
  for (const [type, body] of walk(node)) {
    if (type !== 'A_Expr') continue;
    const parts = strings(body.name);
    if (parts.length > 1 && parts[0]?.toLowerCase() !== 'pg_catalog') names.push(parts.join('.'));
  }
  return [...new Set(names)];
}

/**
 * Words that, in the name of a function the bot cannot see into, say it removes or resets
 * data in bulk (`admin_clear_shopify_sync_queue`, `admin_delete_batch`): high, like the
 * DELETE it stands for.
 */
const REMOVING_WORDS = new Set([
  'clear',
  'delete',
  'purge',
  'drop',
  'truncate',
  'wipe',
  'remove',
  'destroy',
  'erase',
  'prune',
  'reset',
]);

function removingWord(name: string): string | undefined {
  const bare = name.slice(name.lastIndexOf('.') + 1);
  const words = bare
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z]+/);
  return words.find((word) => REMOVING_WORDS.has(word));
}

function functionsCalled(node: unknown): string[] {
  const names: string[] = [];
  for (const [type, body] of walk(node))
    if (type === 'FuncCall') names.push(normalizeFunctionName(strings(body.funcname)));
  return [...new Set(names)];
}

/**
 * Decides whether a statement is a Check (provably read-only) or an Action, and how risky
 * an Action is. Anything this module does not positively recognize as read-only is an
 * Action: the cost of a wrong "action" is a preview; of a wrong "check", a write nobody approved.
 */
export function classify(node: StatementNode, readOnlyFunctions: ReadonlySet<string>): Classification {
  const [type, body] = Object.entries(node)[0] as [string, Record<string, unknown>];
  const verdict = new Verdict();
  const functions = functionsCalled(body);
  const kind = statementKind(type, body, verdict);
  const unknown: string[] = [];

  for (const name of functions) {
    // Known effects first: an annotation vouches for the author's own functions, and cannot
    // turn pg_terminate_backend into a Check.
    const effect = knownEffect(name);
    if (effect) {
      const ignored = vouchedFor(name, readOnlyFunctions)
        ? ' (a readonly annotation cannot vouch for it)'
        : '';
      verdict.action(`calls ${name}${ignored}`, effect.risk, effect.reason);
    } else if (!READ_SAFE_FUNCTIONS.has(name) && !vouchedFor(name, readOnlyFunctions)) {
      unknown.push(name);
      const removing = removingWord(name);
      verdict.action(
        `calls ${name}, not known to be read-only (declare it with <!-- runbook: readonly=${name} --> if it is)`,
        removing ? 'high' : 'medium',
        removing
          ? `unknown function ${name}, whose name says it removes data ("${removing}")`
          : `unknown function ${name}`,
      );
    }
  }
  for (const operator of qualifiedOperators(body))
    verdict.action(`uses operator ${operator}, not known to be read-only`, 'medium', `operator ${operator}`);
  // Writes nested anywhere (a data-modifying WITH, EXPLAIN ANALYZE of one) carry their own
  // risk; a plain EXPLAIN runs nothing.
  if (kind !== 'EXPLAIN')
    for (const [nested, nestedBody] of walk(body)) {
      if (nested === 'UpdateStmt' || nested === 'DeleteStmt') dmlRisk(nested, nestedBody, verdict);
    }
  const isCheck = verdict.actionReasons.length === 0;
  // Nothing but unknown functions stands between it and a check (no write, no known effect).
  const onlyUnknown = !isCheck && verdict.actionReasons.length === unknown.length;
  return {
    class: isCheck ? 'check' : 'action',
    kind,
    functions,
    actionReasons: verdict.actionReasons,
    risk: isCheck ? undefined : (verdict.risk ?? 'medium'),
    riskReasons: isCheck ? [] : verdict.riskReasons,
    noTransaction: verdict.noTransaction,
    ...(onlyUnknown ? { unknownFunctions: unknown } : {}),
  };
}
