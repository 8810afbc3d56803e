import { beforeAll, describe, expect, it } from 'vitest';
import type { Parameter } from '../../src/runbooks/model.js';
import {
  analyzeSqlBlock,
  loadSqlParser,
  validateParameterValue,
} from '../../src/runbooks/sql/analyzeSqlBlock.js';
import { substitutePlaceholders } from '../../src/runbooks/sql/placeholders.js';

describe('placeholders', () => {
  beforeAll(() => loadSqlParser());

  it.each([
    ['SELECT pg_cancel_backend([PID])', 'SELECT pg_cancel_backend($1)', { name: 'pid', type: 'integer' }],
    [
      "SELECT * FROM profiles WHERE id = '[user-uuid]'",
      'SELECT * FROM profiles WHERE id = $1',
      { name: 'user_uuid', type: 'uuid' },
    ],
    [
      "UPDATE intake_lots SET status = 'x' WHERE id = '<lot-id>'",
      "UPDATE intake_lots SET status = 'x' WHERE id = $1",
      { name: 'lot_id', type: 'text' },
    ],
    [
      "SELECT * FROM logs WHERE request_id = '[request_id]'",
      'SELECT * FROM logs WHERE request_id = $1',
      { name: 'request_id', type: 'text' },
    ],
    [
      "SELECT * FROM auth.users WHERE email = '<user-email>'",
      'SELECT * FROM auth.users WHERE email = $1',
      { name: 'user_email', type: 'email' },
    ],
    [
      'SELECT * FROM jobs WHERE id = {{job_id}}',
      'SELECT * FROM jobs WHERE id = $1',
      { name: 'job_id', type: 'text' },
    ],
    ['SELECT * FROM jobs LIMIT :limit', 'SELECT * FROM jobs LIMIT $1', { name: 'limit', type: 'integer' }],
  ])('%s', (text, sql, param) => {
    const result = substitutePlaceholders(text);
    expect(result.sql).toBe(sql);
    expect(result.params).toEqual([expect.objectContaining(param)]);
  });

  it('leaves casts, literals, comments, quoted names, dollar quotes and subscripts as written', () => {
    const text = `SELECT x::text, '%circuit%breaker%', '[not a placeholder ]', "Col[1]", arr[2], ARRAY[a], $$[PID]$$ -- [PID]\nFROM t`;
    const result = substitutePlaceholders(text);
    expect(result.sql).toBe(text);
    expect(result.params).toEqual([]);
  });

  it('binds a placeholder used twice to one parameter', () => {
    const result = substitutePlaceholders("SELECT * FROM a WHERE id = '<lot-id>' OR parent = '<lot-id>'");
    expect(result.sql).toBe('SELECT * FROM a WHERE id = $1 OR parent = $1');
    expect(result.params).toHaveLength(1);
  });

  it('numbers parameters per statement, and keeps the statement text as written', () => {
    const analysis = analyzeSqlBlock(
      "SELECT pg_cancel_backend([PID]);\nSELECT * FROM lots WHERE id = '<lot-id>' AND owner = [PID];",
    );
    if (!analysis.ok) throw new Error(analysis.error);
    expect(analysis.statements.map((statement) => statement.statement.sql)).toEqual([
      'SELECT pg_cancel_backend($1)',
      'SELECT * FROM lots WHERE id = $1 AND owner = $2',
    ]);
    expect(analysis.statements[1]!.statement.text).toBe(
      "SELECT * FROM lots WHERE id = '<lot-id>' AND owner = [PID]",
    );
  });

  it('splits statements after non-ASCII comments and keeps each comment with its statement', () => {
    const analysis = analyzeSqlBlock(
      "-- ðŸš¨ check â€” first\nSELECT 1;\n\n-- 🚨 second\nSELECT 'é' AS accent; SELECT 3;",
    );
    if (!analysis.ok) throw new Error(analysis.error);
    expect(
      analysis.statements.map((statement) => [
        statement.statement.text,
        statement.comment,
        statement.lineOffset,
      ]),
    ).toEqual([
      ['SELECT 1', 'ðŸš¨ check â€” first', 1],
      ["SELECT 'é' AS accent", '🚨 second', 4],
      ['SELECT 3', undefined, 4],
    ]);
  });
});

describe('parameter values', () => {
  const pid: Parameter = { name: 'pid', type: 'integer', placeholder: '[PID]', example: '12345' };
  const uuid: Parameter = {
    name: 'user_uuid',
    type: 'uuid',
    placeholder: "'[user-uuid]'",
    example: '3f2b8c1e-5d4a-4c7b-9e2f-1a2b3c4d5e6f',
  };
  const email: Parameter = {
    name: 'user_email',
    type: 'email',
    placeholder: "'<user-email>'",
    example: 'user@example.com',
  };
  const text: Parameter = { name: 'lot_id', type: 'text', placeholder: "'<lot-id>'", example: 'abc123' };

  it('rejects injection attempts in typed parameters, naming the parameter, its type and an example', () => {
    expect(validateParameterValue(pid, '1; DROP TABLE x')).toEqual({
      ok: false,
      message: 'pid must be an integer, e.g. pid=12345 (got "1; DROP TABLE x")',
    });
    expect(validateParameterValue(uuid, "' OR 1=1 --")).toMatchObject({
      ok: false,
      message: expect.stringContaining('user_uuid must be a UUID, e.g. user_uuid=3f2b8c1e'),
    });
    expect(validateParameterValue(email, "x' OR '1'='1")).toMatchObject({ ok: false });
    expect(validateParameterValue(pid, '99999999999999999999')).toMatchObject({ ok: false });
  });

  it('accepts good values, and passes text through unchanged to be bound', () => {
    expect(validateParameterValue(pid, ' 4242 ')).toEqual({ ok: true, value: 4242 });
    expect(validateParameterValue(uuid, '3F2B8C1E-5D4A-4C7B-9E2F-1A2B3C4D5E6F')).toEqual({
      ok: true,
      value: '3f2b8c1e-5d4a-4c7b-9e2f-1a2b3c4d5e6f',
    });
    expect(validateParameterValue(email, 'ops@example.com')).toEqual({ ok: true, value: 'ops@example.com' });
    expect(validateParameterValue(text, "' OR 1=1 --")).toEqual({ ok: true, value: "' OR 1=1 --" });
    expect(validateParameterValue(text, 'a\0b')).toMatchObject({ ok: false });
  });
});

describe('parameter types from names', () => {
  it.each([
    ['[PID]', 'integer'],
    ["'[email-id]'", 'text'],
    ["'<user-email>'", 'email'],
    ["'[user-uuid]'", 'uuid'],
    ["'<lot-id>'", 'text'],
    [':minutes', 'integer'],
  ])('%s is %s', (placeholder, type) => {
    expect(substitutePlaceholders(`SELECT ${placeholder}`).params[0]?.type).toBe(type);
  });
});
