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
    [
      "SELECT * FROM auth.users WHERE email = :'user_email'",
      'SELECT * FROM auth.users WHERE email = $1',
      { name: 'user_email', type: 'email' },
    ],
    [
      "SELECT * FROM jobs WHERE created_at > now() - make_interval(days => {{ days }}) AND note = E'it\\'s [x]'",
      "SELECT * FROM jobs WHERE created_at > now() - make_interval(days => $1) AND note = E'it\\'s [x]'",
      { name: 'days', type: 'integer' },
    ],
    [
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = [backendPid]',
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1',
      { name: 'backend_pid', type: 'integer', placeholder: '[backendPid]' },
    ],
  ])('%s', (text, sql, param) => {
    const result = substitutePlaceholders(text);
    expect(result.sql).toBe(sql);
    expect(result.params).toEqual([expect.objectContaining(param)]);
  });

  it('leaves casts, literals, comments, quoted names, dollar quotes and subscripts as written', () => {
    const text = `SELECT x::text, '%circuit%breaker%', '[not a placeholder ]', "Col[1]", arr[2], ARRAY[a], ARRAY [b], arr[:n], (ts)::date, $$[PID]$$, $q$ :name $q$ -- [PID]\nFROM t /* [PID] /* nested */ :name */`;
    const result = substitutePlaceholders(text);
    expect(result.sql).toBe(text);
    expect(result.params).toEqual([]);
  });

  it('binds a placeholder used twice to one parameter', () => {
    const result = substitutePlaceholders("SELECT * FROM a WHERE id = '<lot-id>' OR parent = '<lot-id>'");
    expect(result.sql).toBe('SELECT * FROM a WHERE id = $1 OR parent = $1');
    expect(result.params).toHaveLength(1);
  });

  it('keeps the runbook text of a placeholder and its example for the person', () => {
    const [param] = substitutePlaceholders(
      "SELECT * FROM shopify_sync_queue WHERE id = '<queue-item-id>'",
    ).params;
    expect(param).toEqual({
      name: 'queue_item_id',
      type: 'text',
      placeholder: "'<queue-item-id>'",
      example: 'abc123',
    });
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

describe('statement splitting', () => {
  beforeAll(() => loadSqlParser());

  it("splits seed 000's mojibake-commented block at the right characters", () => {
    // Verbatim from the seed: `âŒ`/`âœ…` emoji mis-decoded as Mac Roman, 3 bytes each in UTF-8.
    const block = [
      '-- \u201a\u00f9\u00e5 BAD: Ambiguous columns',
      'CREATE VIEW jobs_view AS',
      'SELECT * FROM jobs j',
      'JOIN customers c ON j.customer_id = c.id;',
      '',
      '-- \u201a\u00fa\u00d6 GOOD: Explicit column aliases',
      'CREATE VIEW jobs_view AS',
      'SELECT ',
      '  j.id as job_id,',
      '  c.name as customer_name',
      'FROM jobs j',
      'LEFT JOIN customers c ON j.customer_id = c.id;',
    ].join('\n');
    const analysis = analyzeSqlBlock(block);
    if (!analysis.ok) throw new Error(analysis.error);
    expect(
      analysis.statements.map((s) => [s.statement.text.split('\n')[0], s.comment, s.lineOffset]),
    ).toEqual([
      ['CREATE VIEW jobs_view AS', '\u201a\u00f9\u00e5 BAD: Ambiguous columns', 1],
      ['CREATE VIEW jobs_view AS', '\u201a\u00fa\u00d6 GOOD: Explicit column aliases', 6],
    ]);
    expect(analysis.statements[1]!.statement.text.endsWith('c.id')).toBe(true);
  });

  it('keeps only the comment group nearest the statement, and block comments on their own lines', () => {
    const analysis = analyzeSqlBlock(
      "-- Step 2\n\n-- Reset the queue\n-- for failed items only\nUPDATE q SET status = 'queued' WHERE status = 'failed'; -- done\n/* Then\n * verify */\nSELECT count(*) FROM q WHERE name = 'ü — [PID]';",
    );
    if (!analysis.ok) throw new Error(analysis.error);
    expect(analysis.statements.map((s) => [s.comment, s.lineOffset, s.statement.params.length])).toEqual([
      ['Reset the queue for failed items only', 4, 0],
      ['Then verify', 7, 0],
    ]);
  });

  it('maps statements after multi-byte text inside statements, not only in comments', () => {
    const analysis = analyzeSqlBlock("SELECT '日本語 — 🚨' AS a; SELECT [PID] AS pid;\nSELECT 'ok'");
    if (!analysis.ok) throw new Error(analysis.error);
    expect(analysis.statements.map((s) => [s.statement.text, s.statement.sql, s.lineOffset])).toEqual([
      ["SELECT '日本語 — 🚨' AS a", "SELECT '日本語 — 🚨' AS a", 0],
      ['SELECT [PID] AS pid', 'SELECT $1 AS pid', 0],
      ["SELECT 'ok'", "SELECT 'ok'", 1],
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
    expect(validateParameterValue(pid, '9223372036854775808')).toMatchObject({ ok: false });
    expect(validateParameterValue(pid, '12.5')).toMatchObject({ ok: false });
    expect(validateParameterValue(uuid, '3f2b8c1e-5d4a-4c7b-9e2f-1a2b3c4d5e6f; DROP TABLE x')).toMatchObject({
      ok: false,
    });
    expect(validateParameterValue(text, 'x'.repeat(1001))).toMatchObject({ ok: false });
  });

  it('accepts good values, and passes text through unchanged to be bound', () => {
    expect(validateParameterValue(pid, ' 4242 ')).toEqual({ ok: true, value: 4242 });
    // Beyond 2^53 the digits are kept as a string, so nothing is rounded on the way to int8.
    expect(validateParameterValue(pid, '9223372036854775807')).toEqual({
      ok: true,
      value: '9223372036854775807',
    });
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
