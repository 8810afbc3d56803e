import { identifierSentinel, type Parameter, type ParameterType } from '../model.js';

/**
 * Runbook placeholders (`[PID]`, `'<lot-id>'`, `'[user-uuid]'`, `{{name}}`, `:name`) turned
 * into `$n` bind parameters, before the SQL parser sees them (`[PID]` is not SQL). A small
 * scanner walks the text so comments, string literals, quoted identifiers, dollar quotes,
 * `::casts` and array subscripts are left exactly as written.
 */
export interface Substitution {
  sql: string;
  params: Parameter[];
  /** For each character of `sql`, the index of the character of the input it came from. */
  origin: number[];
  /** Placeholders written as identifiers (`options.identifiers`): a sentinel name in `sql`. */
  identifiers: Parameter[];
  /** Names of placeholders written bare (not inside quotes): those that could stand for a name. */
  bare: Set<string>;
}

export interface SubstituteOptions {
  /** Also read a bare `<name>` as a placeholder (`VACUUM <table>`), not only `'<name>'`. */
  angle?: boolean;
  /** Bare placeholders with these names become `identifierSentinel(name)`, not `$n`. */
  identifiers?: ReadonlySet<string>;
}

const QUOTED_PLACEHOLDER = /^(?:<([A-Za-z][\w-]*)>|\[([A-Za-z][\w-]*)\]|\{\{\s*([A-Za-z][\w-]*)\s*\}\})$/;
const BRACKET = /^\[([A-Za-z][\w-]*)\]/;
const MUSTACHE = /^\{\{\s*([A-Za-z][\w-]*)\s*\}\}/;
const COLON = /^:([A-Za-z][A-Za-z0-9_]*)/;
/** `<table>` written bare, where an identifier goes; `a <b> c` comparisons have spaces inside. */
const ANGLE = /^<([A-Za-z][\w-]*)>(?![\w>=])/;
/** psql's quoted variable `:'user_email'`, a literal, so a bind parameter too. */
const PSQL_QUOTED = /^:'([A-Za-z][\w-]*)'/;
const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

export function substitutePlaceholders(text: string, options: SubstituteOptions = {}): Substitution {
  const params: Parameter[] = [];
  const identifiers: Parameter[] = [];
  const bare = new Set<string>();
  let sql = '';
  const origin: number[] = [];
  const emit = (chunk: string, from: number) => {
    for (let k = 0; k < chunk.length; k++) origin.push(from + k);
    sql += chunk;
  };
  const bind = (rawName: string, placeholder: string, from: number, quoted = false) => {
    const name = normalizeName(rawName);
    if (!quoted) bare.add(name);
    if (!quoted && options.identifiers?.has(name)) {
      if (!identifiers.some((param) => param.name === name))
        identifiers.push({ name, type: 'identifier', placeholder, example: identifierExample(name) });
      const sentinel = identifierSentinel(name);
      for (let k = 0; k < sentinel.length; k++) origin.push(from);
      sql += sentinel;
      return;
    }
    let index = params.findIndex((param) => param.name === name);
    if (index < 0) {
      const type = inferType(name);
      params.push({ name, type, placeholder, example: exampleFor(name, type) });
      index = params.length - 1;
    }
    const marker = `$${index + 1}`;
    for (let k = 0; k < marker.length; k++) origin.push(from);
    sql += marker;
  };

  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const char = text[i]!;
    const before = i > 0 ? text[i - 1]! : '';
    if (rest.startsWith('--')) {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      emit(text.slice(i, stop), i);
      i = stop;
    } else if (rest.startsWith('/*')) {
      const stop = endOfBlockComment(text, i);
      emit(text.slice(i, stop), i);
      i = stop;
    } else if (char === "'") {
      // E'it\'s': backslash escapes, or the scanner would lose track of where the string ends.
      const escapes = /[eE]/.test(before) && !/\w/.test(text[i - 2] ?? '');
      const stop = endOfQuoted(text, i, "'", escapes);
      const literal = text.slice(i, stop);
      const inner = QUOTED_PLACEHOLDER.exec(literal.slice(1, -1));
      if (inner && literal.endsWith("'")) bind(inner[1] ?? inner[2] ?? inner[3]!, literal, i, true);
      else emit(literal, i);
      i = stop;
    } else if (char === '"') {
      const stop = endOfQuoted(text, i, '"');
      emit(text.slice(i, stop), i);
      i = stop;
    } else if (char === '$' && DOLLAR_TAG.test(rest) && !/\w/.test(before)) {
      const tag = DOLLAR_TAG.exec(rest)![0];
      const end = text.indexOf(tag, i + tag.length);
      const stop = end < 0 ? text.length : end + tag.length;
      emit(text.slice(i, stop), i);
      i = stop;
    } else if (
      char === '[' &&
      BRACKET.test(rest) &&
      !/[\w)\]]/.test(before) &&
      !/(?:^|\W)array\s*$/i.test(text.slice(Math.max(0, i - 40), i))
    ) {
      // `arr[i]` and `ARRAY[x]` follow a name or a bracket (or `ARRAY [x]`, the keyword and a
      // space); a placeholder follows an operator.
      const match = BRACKET.exec(rest)!;
      bind(match[1]!, match[0], i);
      i += match[0].length;
    } else if (options.angle && char === '<' && ANGLE.test(rest) && !/[\w<>=!]/.test(before)) {
      const match = ANGLE.exec(rest)!;
      bind(match[1]!, match[0], i);
      i += match[0].length;
    } else if (char === '{' && MUSTACHE.test(rest)) {
      const match = MUSTACHE.exec(rest)!;
      bind(match[1]!, match[0], i);
      i += match[0].length;
    } else if (char === ':' && PSQL_QUOTED.test(rest) && before !== ':' && !/\w/.test(before)) {
      const match = PSQL_QUOTED.exec(rest)!;
      bind(match[1]!, match[0], i, true);
      i += match[0].length;
    } else if (char === ':' && COLON.test(rest) && before !== ':' && !/[\w)\]['"]/.test(before)) {
      // `::type` is a cast, `a:b` and `a[:b]` slices; `= :name` is a placeholder.
      const match = COLON.exec(rest)!;
      bind(match[1]!, match[0], i);
      i += match[0].length;
    } else {
      emit(char, i);
      i += 1;
    }
  }
  return { sql, params, origin, identifiers, bare };
}

/** Index just past a quoted run starting at `start`; a doubled quote is an escaped one. */
function endOfQuoted(text: string, start: number, quote: string, backslashEscapes = false): number {
  let i = start + 1;
  while (i < text.length) {
    if (backslashEscapes && text[i] === '\\') i += 2;
    else if (text[i] === quote) {
      if (text[i + 1] === quote) i += 2;
      else return i + 1;
    } else i += 1;
  }
  return text.length;
}

/** Index just past a block comment starting at `start`; Postgres lets them nest. */
function endOfBlockComment(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    if (text.startsWith('/*', i)) {
      depth += 1;
      i += 2;
    } else if (text.startsWith('*/', i)) {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else i += 1;
  }
  return text.length;
}

function normalizeName(raw: string): string {
  return raw
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

const INTEGER_NAMES =
  /^(pid|count|limit|days|hours|minutes|seconds|number|n|port|retries)$|_(pid|count|days|hours|minutes|seconds|number)$/;

/** From the name alone: the runbook says `[PID]`, so it is a backend pid, an integer. */
function inferType(name: string): ParameterType {
  if (INTEGER_NAMES.test(name)) return 'integer';
  if (name.includes('uuid')) return 'uuid';
  // `[email-id]` is the id of an email row, not an address.
  if (name.endsWith('_id')) return 'text';
  if (name.includes('email')) return 'email';
  return 'text';
}

function exampleFor(name: string, type: ParameterType): string {
  switch (type) {
    case 'integer':
      return '12345';
    case 'uuid':
      return '3f2b8c1e-5d4a-4c7b-9e2f-1a2b3c4d5e6f';
    case 'email':
      return 'user@example.com';
    case 'text':
      return name.endsWith('_id') ? 'abc123' : 'value';
    case 'identifier':
      return identifierExample(name);
  }
}

/** An example name for an identifier parameter, from what its name says it is. */
function identifierExample(name: string): string {
  if (name.includes('index')) return 'orders_customer_id_idx';
  if (name.includes('trigger')) return 'orders_audit';
  if (name.includes('schema')) return 'public';
  if (name.includes('role') || name.includes('user')) return 'authenticated';
  return 'orders';
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL = /^[^\s@'"\\;]+@[^\s@'"\\;]+\.[^\s@'"\\;]+$/;
const INT8_MAX = 9223372036854775807n;

/**
 * Checks a typed value before it is bound. Binding already makes any value harmless; this
 * is for the person, who learns at once that `pid` wants a number, with an example.
 */
export function validateParameterValue(
  param: Parameter,
  raw: string,
): { ok: true; value: string | number } | { ok: false; message: string } {
  const value = raw.trim();
  const fail = (what: string) => ({
    ok: false as const,
    message: `${param.name} must be ${what}, e.g. ${param.name}=${param.example} (got "${value.slice(0, 60)}")`,
  });
  switch (param.type) {
    case 'integer': {
      if (!/^-?\d{1,19}$/.test(value)) return fail('an integer');
      const big = BigInt(value);
      if (big > INT8_MAX || big < -INT8_MAX - 1n) return fail('an integer that fits in bigint');
      return { ok: true, value: Number.isSafeInteger(Number(value)) ? Number(value) : value };
    }
    case 'uuid':
      return UUID.test(value) ? { ok: true, value: value.toLowerCase() } : fail('a UUID');
    case 'email':
      return EMAIL.test(value) && value.length <= 320 ? { ok: true, value } : fail('an email address');
    case 'text':
      if (raw.length > 1000) return fail('at most 1000 characters');
      if (raw.includes('\0')) return fail('text without NUL characters');
      return { ok: true, value: raw };
    case 'identifier': {
      const parts = identifierParts(value);
      if (!parts) return fail('a name such as orders or public.orders ("Quoted Name" keeps case and spaces)');
      if (parts.length > 2) return fail('a name or schema.name, at most one dot');
      return { ok: true, value };
    }
  }
}

const MAX_IDENTIFIER_BYTES = 63;

/**
 * A name as typed, split at dots into its exact parts: `public.orders` → [public, orders],
 * `"Order Lines"` → [Order Lines] (a doubled quote inside is one quote). Each part is used
 * exactly as written, as `format('%I')` would. Undefined when it is not a name.
 */
export function identifierParts(value: string): string[] | undefined {
  const parts: string[] = [];
  let i = 0;
  const text = value.trim();
  while (i <= text.length) {
    let part: string;
    if (text[i] === '"') {
      const end = endOfQuoted(text, i, '"');
      if (text[end - 1] !== '"' || end - i < 3) return undefined;
      part = text.slice(i + 1, end - 1).replaceAll('""', '"');
      i = end;
    } else {
      const match = /^[^."\s\0;]+/.exec(text.slice(i));
      if (!match) return undefined;
      part = match[0];
      i += part.length;
    }
    if (part.includes('\0') || Buffer.byteLength(part, 'utf8') > MAX_IDENTIFIER_BYTES) return undefined;
    parts.push(part);
    if (i === text.length) return parts;
    if (text[i] !== '.') return undefined;
    i += 1;
  }
  return undefined;
}
