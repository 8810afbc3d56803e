/**
 * Runbooks as the bot understands them (DESIGN.md "Runbook model"): a Markdown file becomes a
 * runbook of procedures, each a list of steps. Only a Check is ever run without a person's
 * approval, and a statement is a Check only when the SQL parser proves it read-only.
 */

export type Risk = 'low' | 'medium' | 'high';

/**
 * Which backends a pg_terminate_backend / pg_cancel_backend step may reach: those of the
 * target's own database (the default), or of every database on its server (annotation).
 */
export type SignalScope = 'database' | 'server';

/** Types a placeholder's value is validated against before it is bound (or, for identifiers, spliced). */
export type ParameterType = 'integer' | 'uuid' | 'email' | 'text' | 'identifier';

/**
 * What an identifier parameter names, read from where it stands in the statement: an object
 * that must exist in the target's catalog, or `name` for a name the statement creates.
 */
export type IdentifierKind = 'table' | 'index' | 'trigger' | 'schema' | 'role' | 'name';

export interface Parameter {
  /** Normalized name, e.g. `pid`, `lot_id`, `user_email`. */
  name: string;
  type: ParameterType;
  /** How the runbook wrote it, e.g. `[PID]` or `'<lot-id>'`. */
  placeholder: string;
  /** A valid value, shown when the parameter is missing or wrong. */
  example: string;
  /**
   * Identifier parameters only: what the name stands for, and the schema written before it
   * (`public.<table>`, or another parameter in `<schema>.<table>`).
   */
  identifier?: {
    kind: IdentifierKind;
    schema?: NameRef;
    /** A trigger's table (`DROP TRIGGER <t> ON <schema>.<table>`): the trigger must be on it. */
    on?: { table: NameRef; schema?: NameRef };
  };
}

/** A name as the statement writes it: text, or another parameter's value. */
export type NameRef = { text: string } | { param: string };

/** One SQL statement as written and as it will be sent (placeholders replaced by `$n`). */
export interface Statement {
  /** The statement as written in the runbook, placeholders intact. */
  text: string;
  /** What is sent to Postgres: placeholders replaced by `$1…$n`, nothing spliced. */
  sql: string;
  /** `params[i]` is bound to `$(i+1)`. A placeholder used twice is one parameter. */
  params: Parameter[];
  /**
   * Placeholders where the grammar wants a name (`VACUUM <table>`), which no bind parameter
   * can fill: `sql` holds `identifierSentinel(name)` there until the value has been checked
   * against the target's catalog and quoted (see runbooks/identifiers.ts).
   */
  identifiers?: Parameter[];
  /** e.g. SELECT, UPDATE, VACUUM, CREATE INDEX, DROP TRIGGER. */
  kind: string;
  /** Functions the statement calls, lower-case, schema-qualified when written so. */
  functions: string[];
  /**
   * The `SET ROLE` / `SET name = value` lines written just before it: the statement runs
   * under them, set for its own transaction only (`SET LOCAL ROLE`, `set_config(…, true)`).
   */
  session?: SessionSetting[];
}

/** A session setting a statement runs under. */
export type SessionSetting =
  | { kind: 'role'; role: string }
  | { kind: 'setting'; name: string; value: { text: string } | { param: Parameter } };

/**
 * Every parameter a statement takes: its own (`$n` order), then those only its session
 * settings use, then its identifiers (a name used both ways is asked for once, as a value).
 */
export function statementParameters(statement: Statement): Parameter[] {
  const params = [...statement.params];
  for (const setting of statement.session ?? [])
    if (setting.kind === 'setting' && 'param' in setting.value) {
      const { param } = setting.value;
      if (!params.some((known) => known.name === param.name)) params.push(param);
    }
  for (const identifier of statement.identifiers ?? [])
    if (!params.some((known) => known.name === identifier.name)) params.push(identifier);
  return params;
}

/** The token standing for an identifier parameter in `Statement.sql` until it is spliced. */
export function identifierSentinel(name: string): string {
  return `rb_ident__${name}`;
}

export interface SourceLocation {
  file: string;
  /** 1-based line of the element in the file. */
  line: number;
}

interface StepBase {
  /** Unique within the procedure: `1`, `2`, … in document order. */
  id: string;
  /** A short title: the SQL comment above the statement, the list item, or the label above the block. */
  title: string;
  /** The label of the part of the procedure it is in, e.g. "Diagnosis", "Option A: Clear Failed Items". */
  section?: string;
  /** Verification steps confirm a fix (a "Verification" / "Confirm" section). */
  role: 'diagnose' | 'remediate' | 'verify';
  source: SourceLocation;
}

/** A comparison an expectation makes. */
export type ComparisonOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** One condition of an expectation; all of them must hold for it to be met. */
export type ExpectCondition =
  /** The number of rows returned, e.g. `0 rows`, `at least 1 row`. */
  | { kind: 'rows'; op: ComparisonOp; count: number }
  /**
   * A column of every row compared with a value (`count = 0`, `status = 'ok'`); without a
   * column, the one value a one-row, one-column result holds (`Expected: 0`).
   */
  | { kind: 'value'; column?: string; op: ComparisonOp; value: string; quoted: boolean }
  /** A column of every row is (not) NULL: `customer_name is not null`. */
  | { kind: 'null'; column: string; isNull: boolean };

/** What a check should return, so its result gets a met / not met verdict. */
export interface Expectation {
  /** As written (annotation) or as derived, e.g. `0 rows`, `count = 0`. */
  text: string;
  conditions: ExpectCondition[];
  /** `annotation`: `<!-- runbook: expect="…" -->`; `prose`: derived from the author's words. */
  from: 'annotation' | 'prose';
  /** The line it was read from. */
  line: number;
  /** For `prose`: the author's words it was derived from. */
  said?: string;
}

/** Provably read-only: SELECT / SHOW / EXPLAIN (no ANALYZE) calling only read-safe functions. */
export interface CheckStep extends StepBase {
  kind: 'check';
  statement: Statement;
  /** What it should return; its result then carries a verdict. */
  expect?: Expectation;
}

/** Anything that is not provably read-only. Never run without preview and approval. */
export interface ActionStep extends StepBase {
  kind: 'action';
  statement: Statement;
  risk: Risk;
  /** Why this risk, e.g. "DELETE without WHERE", "overridden by annotation". */
  riskReasons: string[];
  /** Why it is an Action and not a Check, e.g. "calls pg_terminate_backend". */
  actionReasons: string[];
  /** Approvals required (annotation `approvers=N`); policy may demand more. */
  approvers?: number;
  /** VACUUM, CREATE INDEX CONCURRENTLY…: cannot run inside a transaction block. */
  noTransaction: boolean;
  /** Rows its DML may change (annotation `max_rows=N`); else the target's limit. */
  maxRows?: number;
  /**
   * Annotation `batched=yes|no`: whether its UPDATE or DELETE over the row limit may run in
   * batches of at most that many rows; absent means the target's `batched_dml` decides.
   */
  batched?: boolean;
  /** Set by annotation `signal_scope=server`; absent means the target's database only. */
  signalScope?: SignalScope;
  /**
   * Set when functions the bot does not know are all that make it an action: when a run
   * reaches it, the target's catalog decides. Declared STABLE or IMMUTABLE there with a body
   * that only reads, it runs as a check; otherwise it stays this action.
   */
  decidedByCatalog?: { functions: string[] };
}

/** Done by a person and ticked off in Slack; never executed by the bot. */
export interface ManualStep extends StepBase {
  kind: 'manual';
  text: string;
  code?: { lang: string; text: string };
}

export type Step = CheckStep | ActionStep | ManualStep;

export interface Procedure {
  /** `<runbook id>#<heading slug>`, stable while the heading text stays the same. */
  id: string;
  title: string;
  source: SourceLocation;
  steps: Step[];
  /** Symptom lines (from "Symptoms", "Detection" …), used by `/runbook match`. */
  symptoms: string[];
  /** Error strings quoted or coded in the procedure: "Circuit breaker is open", PGRST002. */
  errorStrings: string[];
  rootCause?: string;
  prevention?: string;
  verification?: string;
}

/** Prose outside procedures kept for incident reports: severity tables, escalation paths. */
export interface ProseSection {
  heading: string;
  /** Heading depth, 1–6. */
  depth: number;
  text: string;
  line: number;
}

export interface LoaderWarning {
  line: number;
  message: string;
}

/** An incident severity as runbooks write it. */
export type SeverityName = 'P0' | 'P1' | 'P2' | 'P3';

/** One row of a runbook's severity table: `| P1 | 5 minutes | Yes |`. */
export interface RunbookSeverity {
  severity: SeverityName;
  /** "P0 Critical" when the table names it so. */
  label?: string;
  /** The response time: 0 for "Immediate". */
  responseMs: number;
  /** A "Page" column's yes or no. */
  page?: boolean;
  line: number;
}

/** A staged target under a severity's heading: "**Within 10 min**: Notify stakeholders". */
export interface RunbookMilestone {
  severity: SeverityName;
  /** After the declaration: 0 for "Immediate". */
  atMs: number;
  text: string;
  line: number;
}

/** A level of a runbook's escalation path: `**Level 4**: Page database admin (P0 only)`. */
export interface RunbookEscalationLevel {
  /** Who or what the level is, as written without its verb: "Database admin". */
  name: string;
  /** Only incidents of these severities reach it ("(P0 only)"); absent: every severity. */
  severities?: SeverityName[];
  line: number;
}

/** What a runbook says about incidents beyond its procedures; absent when it says nothing. */
export interface RunbookIncidentPolicy {
  severities: RunbookSeverity[];
  milestones: RunbookMilestone[];
  /** Its escalation path, first level first; absent on incidents declared before it was read. */
  escalation?: RunbookEscalationLevel[];
}

/** One side of an alert threshold as written: `> 60` → operator `>`, value `60`. */
export interface AlertThresholdBound {
  /** Undefined when the cell has no comparison operator (`60`): the row cannot be used. */
  operator: '>' | '>=' | '<' | '<=' | undefined;
  /** The value with its unit as written: `8GB`, `5s`, `5/hour`, `90%`. */
  value: string;
}

/** A row of a runbook's alert-threshold table: `| Connections | > 60 | > 80 | … |`. */
export interface RunbookAlertThreshold {
  metric: string;
  warn?: AlertThresholdBound;
  critical?: AlertThresholdBound;
  line: number;
}

export interface Runbook {
  /** Slug of the title, e.g. `production-operations-runbook`. */
  id: string;
  title: string;
  source: { file: string; sha256: string; gitCommit?: string; origin: 'built-in' | 'team' | 'file' };
  procedures: Procedure[];
  sections: ProseSection[];
  /** Its severity table and severity milestones, when it has them (incidents use them). */
  incidentPolicy?: RunbookIncidentPolicy;
  /** Rows of its alert-threshold tables; targets that use the runbook take them as health thresholds. */
  alertThresholds?: RunbookAlertThreshold[];
  warnings: LoaderWarning[];
}
