import type pg from 'pg';
import { type FunctionRow, Judge, type Pending } from '../runbooks/execute/readSafety.js';
import { loadSqlParser } from '../runbooks/sql/analyzeSqlBlock.js';
import { knownEffect } from '../runbooks/sql/readSafeFunctions.js';
import { references } from '../runbooks/sql/references.js';
import { firingObjects, writtenExpressions } from './triggerSafePreview.js';

/**
 * Whether a call to the target's own functions may be tried in a transaction that is rolled
 * back, to count what it would change. The question is not whether it writes (that is what the
 * trial measures) but whether anything it does escapes the ROLLBACK: the readSafety judge
 * reads the same bodies (PL/pgSQL and SQL, through the functions they call), by these rules:
 * - a user function may be VOLATILE and write rows with INSERT, UPDATE, DELETE or MERGE:
 *   rolled back, and counted;
 * - NOTIFY and pg_notify, set_config, transaction-level advisory locks are undone by the
 *   ROLLBACK too (a notification is only delivered on COMMIT); they are what it "also does";
 * - every other known effect is not undone: dblink, HTTP calls (http, pg_net), signals,
 *   lo_export, nextval/setval (a sequence never rolls back), COPY … TO PROGRAM, and any
 *   statement other than DML (DDL, TRUNCATE, whose rows the statistics do not count);
 * - SQL built at run time (EXECUTE) cannot be read, so it is not tried;
 * - a trigger or rule on what it writes would run code the judge did not read: not tried;
 * - SECURITY DEFINER runs as its owner: tried only when the bot's role has its owner's rights
 *   anyway, so the trial can do nothing the bot's role could not do itself.
 */
export type TrialSafety = { safe: true; alsoDoes: string[] } | { safe: false; reasons: string[] };

/** Effects a ROLLBACK undoes, by function name. */
const UNDONE_BY_ROLLBACK: ReadonlyMap<string, string> = new Map([
  ['pg_notify', 'sends a notification (pg_notify), delivered only if committed'],
  ['set_config', 'changes a setting (set_config)'],
  ['pg_advisory_xact_lock', 'takes a transaction-level advisory lock'],
  ['pg_advisory_xact_lock_shared', 'takes a transaction-level advisory lock'],
  ['pg_try_advisory_xact_lock', 'takes a transaction-level advisory lock'],
  ['pg_try_advisory_xact_lock_shared', 'takes a transaction-level advisory lock'],
]);

/** Statements a trial may run: their rows are counted, and undone. */
const COUNTED_WRITES = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

class TrialJudge extends Judge {
  readonly alsoDoes: string[] = [];

  constructor(client: pg.ClientBase) {
    super(client, new Set());
  }

  override async text(sql: string, via: string): Promise<void> {
    let writes: string[];
    try {
      writes = references(sql).writes;
    } catch {
      // The parent says why it cannot parse it.
      return super.text(sql, via, true);
    }
    const by = via ? `${via} ` : '';
    for (const write of writes)
      if (write === 'NOTIFY') this.also('sends a notification (NOTIFY), delivered only if committed');
      else if (!COUNTED_WRITES.has(write))
        this.unsafe(`${by}runs ${write}, which a trial cannot undo or count`, 'medium');
    await super.text(sql, via, true);
    if (!writes.some((write) => COUNTED_WRITES.has(write))) return;
    for (const object of await firingObjects(this.client, sql))
      this.unsafe(`${by}would fire ${object}, whose code the bot does not try`, 'medium');
    for (const expression of await writtenExpressions(this.client, sql))
      await this.text(`SELECT ${expression.sql}`, `${by}${expression.label}`.trim());
  }

  protected override async function(fn: FunctionRow, from: Pending): Promise<void> {
    const system = fn.schema === 'pg_catalog' || fn.extension;
    const undone = UNDONE_BY_ROLLBACK.get(fn.name);
    if (system && undone) return this.also(undone);
    if (system || knownEffect(fn.name)) return super.function(fn, from);
    const label = `${fn.schema}.${fn.name}(${fn.args})`;
    const calls = `${from.via ? `${from.via} ` : ''}calls ${label}`;
    if (fn.definer && !fn.ownerRights) {
      this.unsafe(
        `${calls}, which runs as its owner ${fn.owner} (SECURITY DEFINER), with rights the bot's role does not have`,
        'medium',
      );
      return;
    }
    // VOLATILE is what makes it an action, not a reason not to try it: its body decides.
    await this.body(fn, calls, from);
  }

  private also(effect: string): void {
    if (!this.alsoDoes.includes(effect)) this.alsoDoes.push(effect);
  }
}

export async function trialSafety(client: pg.ClientBase, sql: string): Promise<TrialSafety> {
  await loadSqlParser();
  const judge = new TrialJudge(client);
  await judge.text(sql, '');
  const verdict = judge.verdict();
  return verdict.safe ? { safe: true, alsoDoes: judge.alsoDoes } : { safe: false, reasons: verdict.reasons };
}
