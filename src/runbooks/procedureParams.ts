import type { Parameter, Procedure, Statement } from './model.js';
import { validateParameterValue } from './sql/placeholders.js';

/** Values typed by a person, by parameter name, before validation. */
export type RawValues = Record<string, string>;

export type Binding =
  | { ok: true; values: Array<string | number> }
  | { ok: false; missing: Parameter[]; invalid: string[] };

/** Every parameter the procedure's executable steps use, once per name, in order of use. */
export function procedureParameters(procedure: Procedure, kinds: Array<'check' | 'action'>): Parameter[] {
  const byName = new Map<string, Parameter>();
  for (const step of procedure.steps) {
    if (step.kind === 'manual' || !kinds.includes(step.kind)) continue;
    for (const param of step.statement.params) if (!byName.has(param.name)) byName.set(param.name, param);
  }
  return [...byName.values()];
}

/**
 * Validates the values a statement needs and returns them in `$n` order. Values are bound
 * by the driver, never spliced into the SQL, so validation is about helping the person
 * (a pid must be a number), not about safety.
 */
export function bindStatement(statement: Statement, raw: RawValues): Binding {
  const missing: Parameter[] = [];
  const invalid: string[] = [];
  const values: Array<string | number> = [];
  for (const param of statement.params) {
    const given = raw[param.name];
    if (given === undefined || given === '') {
      missing.push(param);
      continue;
    }
    const checked = validateParameterValue(param, given);
    if (checked.ok) values.push(checked.value);
    else invalid.push(checked.message);
  }
  return missing.length === 0 && invalid.length === 0
    ? { ok: true, values }
    : { ok: false, missing, invalid };
}

/** Checks the given values against the parameters: messages for the missing and the invalid. */
export function validateValues(params: Parameter[], raw: RawValues): string[] {
  const problems: string[] = [];
  for (const param of params) {
    const given = raw[param.name];
    if (given === undefined || given === '') {
      problems.push(describeMissing(param));
      continue;
    }
    const checked = validateParameterValue(param, given);
    if (!checked.ok) problems.push(checked.message);
  }
  return problems;
}

const TYPE_NOUNS: Record<Parameter['type'], string> = {
  integer: 'an integer',
  uuid: 'a UUID',
  email: 'an email address',
  text: 'text',
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
 * Parameters the checks need must be given now (they run at once); an action's may wait
 * for its Preview, where a form asks for them. Names the procedure does not use are
 * mistakes worth pointing out (a typo would otherwise leave a value unused).
 */
export function parameterProblems(procedure: Procedure, values: RawValues): string[] {
  const known = procedureParameters(procedure, ['check', 'action']);
  const unknown = Object.keys(values).filter((name) => !known.some((param) => param.name === name));
  const problems = unknown.map((name) =>
    known.length > 0
      ? `${name} is not a parameter of this procedure; it takes ${known.map((param) => `${param.name} (${param.type})`).join(', ')}`
      : `${name} is not a parameter of this procedure; it takes none`,
  );
  problems.push(...validateValues(procedureParameters(procedure, ['check']), values));
  const actionOnly = known.filter((param) => values[param.name] !== undefined);
  problems.push(...validateValues(actionOnly, values).filter((problem) => !problems.includes(problem)));
  return problems;
}
