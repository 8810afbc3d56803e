import {
  type CheckStep,
  type Parameter,
  type Procedure,
  type SessionSetting,
  type Statement,
  type Step,
  statementParameters,
} from './model.js';
import { identifierParts, validateParameterValue } from './sql/placeholders.js';

/** Values typed by a person, by parameter name, before validation. */
export type RawValues = Record<string, string>;

/** A session setting with its value bound: what runs before the statement, in its transaction. */
export type BoundSetting = { kind: 'role'; role: string } | { kind: 'setting'; name: string; value: string };

/**
 * A statement's values in `$n` order and its session settings bound, or what is missing or
 * wrong, in words for the person.
 */
export type Binding =
  | { ok: true; values: Array<string | number>; session: BoundSetting[] }
  | { ok: false; problems: string[] };

/** Every parameter the chosen steps use, once per name, in order of use. */
function stepParameters(steps: Step[], chosen: (step: Step) => boolean): Parameter[] {
  const byName = new Map<string, Parameter>();
  for (const step of steps) {
    if (step.kind === 'manual' || !chosen(step)) continue;
    for (const param of statementParameters(step.statement))
      if (!byName.has(param.name)) byName.set(param.name, param);
  }
  return [...byName.values()];
}

/**
 * Names a run may start without: those an action's Preview asks for that no diagnosis needs.
 * The value is often what the diagnosis finds (the pid of the idle session), so asking for it
 * before the run would make people look it up by hand. A verification check using one runs
 * after the fix, with the value given at Preview.
 */
export function askedAtPreview(steps: Step[]): Set<string> {
  const diagnosis = new Set(
    stepParameters(steps, (step) => step.kind === 'check' && step.role !== 'verify').map(
      (param) => param.name,
    ),
  );
  return new Set(
    stepParameters(steps, (step) => step.kind === 'action')
      .map((param) => param.name)
      .filter((name) => !diagnosis.has(name)),
  );
}

/**
 * The values a check is still waiting for: those of its parameters that Preview asks for and
 * that nobody gave yet. Empty when it can run now (or lacks something Preview cannot give).
 */
export function waitingFor(check: CheckStep, steps: Step[], values: RawValues): Parameter[] {
  const later = askedAtPreview(steps);
  const missing = statementParameters(check.statement).filter(
    (param) => values[param.name] === undefined || values[param.name] === '',
  );
  return missing.length > 0 && missing.every((param) => later.has(param.name)) ? missing : [];
}

/**
 * Validates the values a statement needs and returns them in `$n` order. Values are bound
 * by the driver, never spliced into the SQL, so validation is about helping the person
 * (a pid must be a number), not about safety.
 */
export function bindStatement(statement: Statement, raw: RawValues): Binding {
  const { values, problems } = checkValues(statement.params, raw);
  const sessionOnly = statementParameters(statement).slice(statement.params.length);
  problems.push(...checkValues(sessionOnly, raw).problems);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, values, session: (statement.session ?? []).map((setting) => bindSetting(setting, raw)) };
}

/**
 * The values to bind where a parameter is also a name the procedure splices (`'<table>'`
 * compared with `c.relname` in a check, `DROP TRIGGER … ON <table>` in its fix): the name as
 * the catalog holds it, as the splice reads it (`"Orders"` and `Orders` are relname Orders,
 * `"my-schema"` is nspname my-schema), so the check looks at what the fix acts on. Values of
 * other parameters, and qualified names, are left as given.
 */
export function asCatalogNames(steps: readonly Step[], raw: RawValues): RawValues {
  const spliced = new Set(
    steps.flatMap((step) =>
      step.kind === 'manual' ? [] : (step.statement.identifiers ?? []).map((p) => p.name),
    ),
  );
  const values: RawValues = { ...raw };
  for (const name of spliced) {
    const parts = values[name] === undefined ? undefined : identifierParts(values[name]!.trim());
    if (parts?.length === 1) values[name] = parts[0]!;
  }
  return values;
}

function bindSetting(setting: SessionSetting, raw: RawValues): BoundSetting {
  if (setting.kind === 'role') return setting;
  const { value } = setting;
  // Validated above with the other parameters; a setting's value is text whatever its type.
  return {
    kind: 'setting',
    name: setting.name,
    value: 'text' in value ? value.text : (raw[value.param.name] ?? ''),
  };
}

/** Checks the given values against the parameters: messages for the missing and the invalid. */
export function validateValues(params: Parameter[], raw: RawValues): string[] {
  return checkValues(params, raw).problems;
}

function checkValues(
  params: Parameter[],
  raw: RawValues,
): { values: Array<string | number>; problems: string[] } {
  const values: Array<string | number> = [];
  const problems: string[] = [];
  for (const param of params) {
    const given = raw[param.name];
    if (given === undefined || given === '') {
      problems.push(describeMissing(param));
      continue;
    }
    const checked = validateParameterValue(param, given);
    if (checked.ok) values.push(checked.value);
    else problems.push(checked.message);
  }
  return { values, problems };
}

const TYPE_NOUNS: Record<Parameter['type'], string> = {
  integer: 'an integer',
  uuid: 'a UUID',
  email: 'an email address',
  text: 'text',
  identifier: 'a name',
};

function describeMissing(param: Parameter): string {
  return `${param.name} is missing: ${TYPE_NOUNS[param.type]} (written ${param.placeholder} in the runbook), e.g. ${param.name}=${param.example}`;
}

/**
 * `name=value` words from a command line; a value may be quoted to hold spaces
 * (`email="a b"`). Anything else is returned as `rest`, in order.
 */
export function parseAssignments(words: string[]): { values: RawValues; rest: string[] } {
  const values: RawValues = {};
  const rest: string[] = [];
  for (const word of words) {
    const match = /^([A-Za-z_][A-Za-z0-9_-]*)=(.*)$/s.exec(word);
    if (!match) {
      rest.push(word);
      continue;
    }
    const name = match[1]!.toLowerCase().replaceAll('-', '_');
    values[name] = unquote(match[2]!);
  }
  return { values, rest };
}

function unquote(value: string): string {
  const quoted = /^"(.*)"$/s.exec(value) ?? /^'(.*)'$/s.exec(value) ?? /^“(.*)”$/s.exec(value);
  return quoted ? (quoted[1] ?? '') : value;
}

/**
 * Splits command text into words, keeping quoted spans together (Slack delivers the text
 * as typed; smart quotes included).
 */
export function splitCommandWords(text: string): string[] {
  return text.match(/(?:[^\s"“”]+|"[^"]*"|“[^”]*”)+/g) ?? [];
}

/**
 * Parameters the diagnosis needs must be given now (it runs at once); those Preview asks
 * for may wait (see askedAtPreview), and are checked when given. Names the procedure does not
 * use are mistakes worth pointing out (a typo would otherwise leave a value unused).
 */
export function parameterProblems(procedure: Procedure, values: RawValues): string[] {
  const known = stepParameters(procedure.steps, () => true);
  const problems = unknownParameters(known, values, 'this procedure');
  const later = askedAtPreview(procedure.steps);
  const now = known.filter((param) => !later.has(param.name) || values[param.name] !== undefined);
  problems.push(...validateValues(now, values));
  return problems;
}

/** A problem for each given name that is none of `known`, naming what `owner` does take. */
export function unknownParameters(known: Parameter[], values: RawValues, owner: string): string[] {
  const takes = known.length > 0 ? known.map((param) => `${param.name} (${param.type})`).join(', ') : 'none';
  return Object.keys(values)
    .filter((name) => !known.some((param) => param.name === name))
    .map((name) => `${name} is not a parameter of ${owner}; it takes ${takes}`);
}
