import { parseSync } from 'libpg-query';
import { type IdentifierKind, identifierSentinel, type NameRef, type Parameter } from '../model.js';
import { type Substitution, substitutePlaceholders } from './placeholders.js';

/**
 * Placeholders made parameters, deciding for each bare one (`<table>`, `[index]`, `{{schema}}`)
 * whether it is a value or a name by where it stands: a statement that parses with `$n` there
 * keeps the value (a bind parameter, as always); one that parses only with a name there
 * (`VACUUM <table>`, `DROP TRIGGER <name> ON <table>`) gets an identifier parameter, spliced
 * once its value has been checked against the target's catalog and quoted. The parser must
 * be loaded (loadSqlParser).
 */
export function substituteDecidingIdentifiers(text: string): Substitution {
  const plain = substitutePlaceholders(text);
  if (parses(plain.sql)) return plain;
  const angled = substitutePlaceholders(text, { angle: true });
  if (parses(angled.sql)) return setsSomething(angled.sql) ? plain : angled;
  if (angled.bare.size === 0) return plain;
  let names = new Set(angled.bare);
  if (!parses(substitutePlaceholders(text, { angle: true, identifiers: names }).sql)) return plain;
  // Each name a value where `$n` still parses: a name used as a value stays one.
  for (const name of [...names]) {
    const without = new Set(names);
    without.delete(name);
    if (parses(substitutePlaceholders(text, { angle: true, identifiers: without }).sql)) names = without;
  }
  const decided = substitutePlaceholders(text, { angle: true, identifiers: names });
  // `SET name = <value>` reads a bare word as a string, not a name: splicing it there would
  // set the role or setting to whatever was typed. It stays what it was (lint says how to
  // write it with set_config).
  if (names.size > 0 && setsSomething(decided.sql)) return plain;
  const kinds = identifierKinds(decided.sql, decided.identifiers);
  return {
    ...decided,
    identifiers: decided.identifiers.map((param) => {
      const found = kinds.get(param.name);
      return { ...param, identifier: found ?? { kind: kindFromName(param.name) } };
    }),
  };
}

function setsSomething(sql: string): boolean {
  const tree = parseSync(sql) as { stmts?: Array<{ stmt?: object }> };
  return (tree.stmts ?? []).some((entry) => entry.stmt && 'VariableSetStmt' in entry.stmt);
}

function parses(sql: string): boolean {
  try {
    parseSync(sql);
    return true;
  } catch {
    return false;
  }
}

type Found = NonNullable<Parameter['identifier']>;

/** What each identifier parameter names, from the node and field its sentinel stands in. */
function identifierKinds(sql: string, identifiers: Parameter[]): Map<string, Found> {
  const bySentinel = new Map(identifiers.map((param) => [identifierSentinel(param.name), param.name]));
  const found = new Map<string, Found>();
  const ref = (value: unknown): NameRef | undefined => {
    if (typeof value !== 'string') return undefined;
    const param = bySentinel.get(value);
    return param ? { param } : { text: value };
  };
  const note: Note = (value, kind, schema, on) => {
    const name = typeof value === 'string' ? bySentinel.get(value) : undefined;
    if (!name || found.has(name)) return;
    const qualifier = ref(schema);
    const table = ref(on?.table);
    const tableSchema = ref(on?.schema);
    found.set(name, {
      kind,
      ...(qualifier ? { schema: qualifier } : {}),
      ...(table ? { on: { table, ...(tableSchema ? { schema: tableSchema } : {}) } } : {}),
    });
  };
  const walk = (node: unknown, parent: Record<string, unknown> | undefined): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, parent);
      return;
    }
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    for (const [type, body] of Object.entries(record)) {
      if (!body || typeof body !== 'object' || Array.isArray(body)) continue;
      const fields = body as Record<string, unknown>;
      if (type === 'DropStmt') dropped(fields, note);
      // `ALTER TABLE t ENABLE TRIGGER <trigger>`: the trigger is the table's (noted before its command).
      if (type === 'AlterTableStmt') {
        const relation = relationOf(fields.relation);
        for (const cmd of (fields.cmds as unknown[]) ?? []) {
          const command = (cmd as { AlterTableCmd?: Record<string, unknown> }).AlterTableCmd;
          if (command && typeof command.subtype === 'string' && /Trig/.test(command.subtype) && relation)
            note(command.name, 'trigger', undefined, {
              table: relation.relname,
              schema: relation.schemaname,
            });
        }
      }
      if (type === 'AlterTableCmd' && typeof fields.subtype === 'string')
        note(fields.name, /Trig/.test(fields.subtype) ? 'trigger' : 'name');
      if (type === 'RoleSpec') note(fields.rolename, 'role');
      if (type === 'ReindexStmt' && fields.kind === 'REINDEX_OBJECT_SCHEMA') note(fields.name, 'schema');
      if (type === 'GrantStmt' && fields.objtype === 'OBJECT_SCHEMA') listed(fields.objects, 'schema', note);
      if (type === 'ClusterStmt') note(fields.indexname, 'index');
      if (type === 'IndexStmt') note(fields.idxname, 'name');
      if (type === 'CreateTrigStmt') note(fields.trigname, 'name');
    }
    if ('relname' in record) {
      // REINDEX INDEX names an index where other statements name a table.
      const isIndex = parent?.kind === 'REINDEX_OBJECT_INDEX';
      note(record.relname, isIndex ? 'index' : 'table', record.schemaname);
      note(record.schemaname, 'schema');
    }
    for (const value of Object.values(record)) walk(value, record);
  };
  try {
    walk(parseSync(sql), undefined);
  } catch {
    // Decided above on text that parses; nothing to read when it does not.
  }
  return found;
}

/** Records what a sentinel names: its kind, the schema written before it, a trigger's table. */
type Note = (
  value: unknown,
  kind: IdentifierKind,
  schema?: unknown,
  on?: { table: unknown; schema?: unknown },
) => void;

/** A RangeVar, bare or wrapped as the parser's JSON has it. */
function relationOf(value: unknown): { relname?: unknown; schemaname?: unknown } | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  return (record.RangeVar as Record<string, unknown> | undefined) ?? record;
}

/** `DROP TRIGGER t ON s.tbl` lists [s, tbl, t]; `DROP INDEX s.i` lists [s, i]. */
function dropped(fields: Record<string, unknown>, note: Note) {
  const kind: IdentifierKind | undefined =
    fields.removeType === 'OBJECT_TRIGGER'
      ? 'trigger'
      : fields.removeType === 'OBJECT_INDEX'
        ? 'index'
        : fields.removeType === 'OBJECT_TABLE'
          ? 'table'
          : fields.removeType === 'OBJECT_SCHEMA'
            ? 'schema'
            : undefined;
  if (!kind) return;
  for (const object of (fields.objects as unknown[]) ?? []) {
    const items = ((object as { List?: { items?: unknown[] } }).List?.items ?? [object]).map(
      (item) => (item as { String?: { sval?: string } }).String?.sval,
    );
    if (kind === 'trigger') {
      const [trigger, table, schema] = [...items].reverse();
      note(trigger, 'trigger', undefined, { table, schema });
      note(table, 'table', schema);
      note(schema, 'schema');
    } else {
      const [name, schema] = [...items].reverse();
      note(name, kind, kind === 'schema' ? undefined : schema);
      note(schema, 'schema');
    }
  }
}

function listed(
  objects: unknown,
  kind: IdentifierKind,
  note: (value: unknown, kind: IdentifierKind) => void,
) {
  for (const object of (objects as unknown[]) ?? [])
    note((object as { String?: { sval?: string } }).String?.sval, kind);
}

/** Where the statement does not say (a name the bot does not place), the placeholder's name may. */
function kindFromName(name: string): IdentifierKind {
  if (name.includes('index')) return 'index';
  if (name.includes('trigger')) return 'trigger';
  if (name.includes('schema')) return 'schema';
  if (/role|user/.test(name)) return 'role';
  if (/table|relation/.test(name)) return 'table';
  return 'name';
}
