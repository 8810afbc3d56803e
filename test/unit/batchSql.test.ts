import { beforeAll, describe, expect, it } from 'vitest';
import { assignedColumns, batchSql, unbatchableShape, writtenTable } from '../../src/remediation/batchSql.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';

const ID = [{ name: 'id', type: 'bigint' }];

describe('the SQL of one batch of a batched UPDATE or DELETE', () => {
  beforeAll(() => loadSqlParser());

  it('keeps the DELETE as written, limits it to the next rows in key order, and reads back the last key', () => {
    const { first, next } = batchSql(
      "DELETE FROM system_logs WHERE created_at < now() - interval '90 days'",
      ID,
      1000,
      0,
    );
    expect(first).toBe(
      [
        'WITH rb_batch AS (',
        'SELECT "system_logs"."id" AS rb_k1',
        'FROM system_logs',
        "WHERE (\ncreated_at < now() - interval '90 days'\n)",
        'ORDER BY "system_logs"."id"',
        'LIMIT 1000',
        '),',
        'rb_changed AS (',
        'DELETE FROM system_logs',
        'WHERE (\ncreated_at < now() - interval \'90 days\'\n) AND ("system_logs"."id") IN (SELECT rb_k1 FROM rb_batch)',
        'RETURNING 1',
        ')',
        'SELECT (SELECT count(*) FROM rb_changed)::int AS changed, (SELECT count(*) FROM rb_batch)::int AS picked, rb_last.*',
        'FROM (SELECT 1) AS rb_one LEFT JOIN (SELECT rb_k1::text FROM rb_batch ORDER BY rb_k1 DESC LIMIT 1) AS rb_last ON true',
      ].join('\n'),
    );
    // Later batches start after the last key, bound after the statement's own values.
    expect(next).toContain(
      'WHERE (\ncreated_at < now() - interval \'90 days\'\n) AND ("system_logs"."id") > ($1::bigint)',
    );
  });

  it('quotes key columns and qualifies them by the alias; a composite key compares as a row, after the values', () => {
    const { next } = batchSql(
      `UPDATE ONLY app.orders AS o SET notes = COALESCE(notes, '') || ' [ARCHIVED]' WHERE o.status = $1 -- old ones`,
      [
        { name: 'Region', type: 'text' },
        { name: 'id "x"', type: 'uuid' },
      ],
      50,
      1,
    );
    expect(next).toContain(
      'SELECT "o"."Region" AS rb_k1, "o"."id ""x""" AS rb_k2\nFROM ONLY app.orders AS o',
    );
    expect(next).toContain(
      'WHERE (\no.status = $1 -- old ones\n) AND ("o"."Region", "o"."id ""x""") > ($2::text, $3::uuid)',
    );
    expect(next).toContain(
      `UPDATE ONLY app.orders AS o SET notes = COALESCE(notes, '') || ' [ARCHIVED]'\nWHERE (\no.status = $1 -- old ones\n) AND ("o"."Region", "o"."id ""x""") IN (SELECT rb_k1, rb_k2 FROM rb_batch)`,
    );
    expect(next).toContain('ORDER BY "o"."Region", "o"."id ""x"""\nLIMIT 50');
  });

  it('walks the whole table when there is no WHERE', () => {
    const { first } = batchSql('DELETE FROM t;', ID, 10, 0);
    expect(first).toContain('SELECT "t"."id" AS rb_k1\nFROM t\nORDER BY "t"."id"');
    expect(first).toContain('DELETE FROM t\nWHERE ("t"."id") IN (SELECT rb_k1 FROM rb_batch)');
  });

  it('says why a statement cannot run in batches', () => {
    expect(unbatchableShape("UPDATE t SET a = 1 WHERE b = 'x'")).toBeUndefined();
    expect(unbatchableShape('UPDATE t SET a = u.a FROM u WHERE u.id = t.id')).toMatch(
      /FROM list joins other tables/,
    );
    expect(unbatchableShape('DELETE FROM t USING u WHERE u.id = t.id')).toMatch(/USING list/);
    expect(unbatchableShape('DELETE FROM t WHERE a = 1 RETURNING *')).toMatch(/RETURNING/);
    expect(unbatchableShape('WITH x AS (SELECT 1) DELETE FROM t')).toMatch(/no WITH/);
    expect(unbatchableShape('INSERT INTO t VALUES (1)')).toMatch(/only a single UPDATE or DELETE/);
    expect(() => batchSql('DELETE FROM t RETURNING id', ID, 10, 0)).toThrow(/cannot run in batches/);
  });

  it('reads the table written and the columns a SET assigns', () => {
    expect(writtenTable('DELETE FROM ONLY s.t WHERE true')).toEqual({ schema: 's', name: 't', only: true });
    expect(writtenTable('UPDATE t SET a = 1')).toEqual({ schema: undefined, name: 't', only: false });
    expect(assignedColumns('UPDATE t SET a = 1, (b, "C") = (2, 3)')).toEqual(['a', 'b', 'C']);
    expect(assignedColumns('DELETE FROM t')).toEqual([]);
  });
});
