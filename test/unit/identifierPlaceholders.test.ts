import { beforeAll, describe, expect, it } from 'vitest';
import { nearest } from '../../src/runbooks/identifiers.js';
import { statementParameters } from '../../src/runbooks/model.js';
import { analyzeSqlBlock, loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { identifierParts, validateParameterValue } from '../../src/runbooks/sql/placeholders.js';

beforeAll(loadSqlParser);

function only(sql: string) {
  const analysis = analyzeSqlBlock(sql);
  if (!analysis.ok) throw new Error(analysis.error);
  expect(analysis.statements).toHaveLength(1);
  return analysis.statements[0]!;
}

const kinds = (sql: string) =>
  Object.fromEntries((only(sql).statement.identifiers ?? []).map((param) => [param.name, param.identifier]));

describe('placeholders in identifier positions', () => {
  it('become identifier parameters with the kind of object the grammar names there', () => {
    expect(kinds('VACUUM (ANALYZE, VERBOSE) <schema>.<table>')).toEqual({
      schema: { kind: 'schema' },
      table: { kind: 'table', schema: { param: 'schema' } },
    });
    // A trigger is looked up on its table.
    expect(kinds('DROP TRIGGER <trigger> ON public.<table>')).toEqual({
      trigger: { kind: 'trigger', on: { table: { param: 'table' }, schema: { text: 'public' } } },
      table: { kind: 'table', schema: { text: 'public' } },
    });
    expect(kinds('REINDEX INDEX CONCURRENTLY [index]')).toEqual({ index: { kind: 'index' } });
    expect(kinds('DROP INDEX CONCURRENTLY {{schema}}.{{idx}}')).toEqual({
      schema: { kind: 'schema' },
      idx: { kind: 'index', schema: { param: 'schema' } },
    });
    expect(kinds('GRANT SELECT ON <table> TO anon, authenticated')).toEqual({ table: { kind: 'table' } });
    expect(kinds('ALTER TABLE <table> ENABLE TRIGGER <trigger>')).toEqual({
      table: { kind: 'table' },
      trigger: { kind: 'trigger', on: { table: { param: 'table' } } },
    });
    expect(kinds('GRANT USAGE ON SCHEMA <schema> TO <role>')).toEqual({
      schema: { kind: 'schema' },
      role: { kind: 'role' },
    });
  });

  it('leave a sentinel in the SQL, never a value, and are asked for like other parameters', () => {
    const analyzed = only('VACUUM <table>');
    expect(analyzed.class).toBe('action');
    expect(analyzed.noTransaction).toBe(true);
    expect(analyzed.statement.sql).toBe('VACUUM rb_ident__table');
    expect(analyzed.statement.params).toEqual([]);
    expect(statementParameters(analyzed.statement).map((param) => [param.name, param.type])).toEqual([
      ['table', 'identifier'],
    ]);
  });

  it('keep value positions as bind parameters, as before', () => {
    const analyzed = only(
      "SELECT pg_terminate_backend([PID]) FROM t WHERE relname = '<table>' AND x = {{n}}",
    );
    expect(analyzed.statement.identifiers).toBeUndefined();
    expect(analyzed.statement.sql).toBe(
      'SELECT pg_terminate_backend($1) FROM t WHERE relname = $2 AND x = $3',
    );
    // The same name as a value and as a name: bound in one place, spliced in the other.
    const both = only('ANALYZE <table>');
    expect(both.statement.identifiers?.[0]?.name).toBe('table');
    const mixed = analyzeSqlBlock(
      "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = '<table>';\nVACUUM <table>;",
    );
    expect(mixed.ok && mixed.statements.map((s) => [s.statement.sql, s.class])).toEqual([
      ['SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = $1', 'check'],
      ['VACUUM rb_ident__table', 'action'],
    ]);
  });

  it('leave comparisons written with < and > alone', () => {
    expect(only('SELECT 1 FROM t WHERE a <b AND c> d').statement.params).toEqual([]);
    expect(only('SELECT 1 FROM t WHERE a<>b').statement.params).toEqual([]);
  });
});

describe('identifier values', () => {
  it('are names, split into exact parts', () => {
    expect(identifierParts('orders')).toEqual(['orders']);
    expect(identifierParts('public.orders')).toEqual(['public', 'orders']);
    expect(identifierParts('"Order Lines"')).toEqual(['Order Lines']);
    expect(identifierParts('"a""b".c')).toEqual(['a"b', 'c']);
    for (const bad of ['orders; DROP TABLE x', 'a b', '', '.x', 'x.', '""', `${'a'.repeat(64)}`])
      expect(identifierParts(bad)).toBeUndefined();
  });

  it('are refused with an example when they are not names', () => {
    const param = { name: 'table', type: 'identifier' as const, placeholder: '<table>', example: 'orders' };
    expect(validateParameterValue(param, 'shop.orders')).toEqual({ ok: true, value: 'shop.orders' });
    const wrong = validateParameterValue(param, 'a.b.c');
    expect(wrong.ok === false && wrong.message).toMatch(/at most one dot/);
    const hostile = validateParameterValue(param, "x'; DROP TABLE y; --");
    expect(hostile.ok === false && hostile.message).toMatch(
      /table must be a name such as orders.*e\.g\. table=orders/,
    );
  });

  it('missing from the catalog get the closest names as suggestions', () => {
    expect(nearest('ordres', ['orders', 'order_lines', 'customers'])).toEqual(['orders']);
    expect(nearest('zzz', ['orders'])).toEqual([]);
  });
});

describe('SET with a bare placeholder', () => {
  it('is not an identifier parameter: SET reads the word as a string, so it stays unparsed', () => {
    expect(analyzeSqlBlock('SET ROLE <role_name>;\nSELECT 1;').ok).toBe(false);
  });
});
