import { parseSync } from 'libpg-query';
import type pg from 'pg';
import type { Step } from '../runbooks/model.js';
import { applySession } from '../runbooks/sessionSettings.js';
import { strings, walk } from '../runbooks/sql/ast.js';
import {
  CatalogNames,
  looksLikeTemplateName,
  lookUpNames,
  type MissingName,
  nearestTo,
} from '../runbooks/sql/catalogNames.js';
import { display, namesIn } from '../runbooks/sql/statementNames.js';
import type { Target } from '../targets/target.js';
import { finish, type Plan, type PlanBase } from './planModel.js';
import { inRolledBackTransaction } from './session.js';
import type { PlanMode } from './statementShape.js';

/**
 * A statement naming a table or function the target does not have would only fail once
 * approved (a template's `CREATE TRIGGER trigger_name … ON table_name`): the preview looks
 * every name up in the catalog, as `lint --target` does, and offers no approval when one is
 * missing. What an earlier step of the same procedure creates is not missing yet: the plan
 * of a later step is made before the earlier one has run. Execution re-plans without them,
 * so by then the object must exist.
 */

type Node = Record<string, unknown>;

/** Names of what these statements create: relations, indexes, functions, and triggers/policies by `name on table`. */
export function createdBy(steps: readonly Step[]): Set<string> {
  const created = new Set<string>();
  for (const step of steps) {
    if (step.kind === 'manual') continue;
    let parsed: { stmts?: Array<{ stmt: Node }> };
    try {
      parsed = parseSync(step.statement.sql) as { stmts?: Array<{ stmt: Node }> };
    } catch {
      continue;
    }
    for (const { stmt } of parsed.stmts ?? [])
      for (const [type, body] of walk(stmt)) {
        const relation = (body.relation ??
          body.view ??
          body.sequence ??
          (body.into as Node | undefined)?.rel) as { relname?: string } | undefined;
        if (
          ['CreateStmt', 'ViewStmt', 'CreateSeqStmt', 'CreateTableAsStmt'].includes(type) &&
          relation?.relname
        )
          created.add(relation.relname);
        else if (type === 'IndexStmt' && typeof body.idxname === 'string') created.add(body.idxname);
        else if (type === 'CreateFunctionStmt') created.add(`${strings(body.funcname).at(-1)}()`);
        else if (type === 'CreateTrigStmt' && relation?.relname)
          created.add(`${body.trigname} on ${relation.relname}`);
        else if (type === 'CreatePolicyStmt')
          created.add(`${body.policy_name} on ${(body.table as { relname?: string } | undefined)?.relname}`);
      }
  }
  return created;
}

/** How a missing object is looked up among what earlier steps create. */
function createdKey(missing: MissingName): string {
  if (missing.kind === 'function') return `${missing.name.name}()`;
  return missing.on ? `${missing.name.name} on ${missing.on.name}` : missing.name.name;
}

function described(missing: MissingName, target?: string): string {
  const nearest = nearestTo(missing);
  return (
    `${missing.kind} ${display(missing.name)}${missing.kind === 'function' ? '()' : ''}` +
    `${missing.on ? ` on table ${display(missing.on)}` : ''} does not exist${target ? ` on ${target}` : ''}` +
    (nearest.length > 0 ? ` (did you mean ${nearest.join(', ')}?)` : '')
  );
}

/**
 * The plan of a statement that names objects the target lacks (not counting `IF EXISTS`
 * names, which only make it do nothing, and what `earlier` steps create): blocked, saying
 * which and what is near; undefined when everything it names is there.
 */
export async function missingObjectsPlan(
  client: pg.PoolClient,
  target: Target,
  step: Step & { kind: 'action' },
  mode: PlanMode,
  base: PlanBase,
  earlier: readonly Step[],
): Promise<Plan | undefined> {
  // Names given at run time are looked up when their values are (runbooks/identifiers.ts).
  if (step.statement.identifiers?.length) return undefined;
  const parsed = parseSync(step.statement.sql) as { stmts?: Array<{ stmt: Node }> };
  const tree = parsed.stmts?.[0]?.stmt;
  if (!tree) return undefined;
  const found = await inRolledBackTransaction(client, target.settings, true, async () => {
    // As whom it runs decides what its unqualified names resolve to.
    await applySession(client, base.session ?? []);
    return lookUpNames(client, namesIn(tree), new CatalogNames());
  });
  const created = createdBy(earlier);
  const missing = found.missing.filter((name) => !name.ifExists && !created.has(createdKey(name)));
  if (missing.length === 0) return undefined;
  const templates = missing
    .filter((name) => looksLikeTemplateName(name.name.name))
    .map((name) => name.name.name);
  const reason =
    missing.map((name, i) => described(name, i === 0 ? target.name : undefined)).join('; ') +
    (templates.length > 0
      ? `; ${templates.join(', ')} ${templates.length === 1 ? 'reads' : 'read'} as a template's stand-in: the runbook must name real objects`
      : '');
  return finish(
    { ...base, mode, summary: `cannot run: ${reason}`, blocked: { kind: 'missing_objects', reason } },
    'static',
  );
}
