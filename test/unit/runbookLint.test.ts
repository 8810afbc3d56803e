import { beforeAll, describe, expect, it } from 'vitest';
import { closestNames, looksLikeTemplateName } from '../../src/runbooks/lint/findings.js';
import { lintRunbook } from '../../src/runbooks/lint/lintRunbook.js';
import { parseRunbook } from '../../src/runbooks/markdown/parseRunbook.js';
import { loadSqlParser } from '../../src/runbooks/sql/analyzeSqlBlock.js';

beforeAll(async () => {
  await loadSqlParser();
});

function lint(markdown: string) {
  const parsed = parseRunbook(markdown, 'team.md');
  return lintRunbook({ ...parsed, source: { file: 'team.md', sha256: '', origin: 'file' } });
}

const fence = (lang: string, body: string) => `\`\`\`${lang}\n${body}\n\`\`\``;

describe('lint without a database', () => {
  it('names pg_stat_statements columns PostgreSQL renamed, with the new name and the line', () => {
    const findings = lint(
      `# Slow\n\n## Slow queries\n\n${fence('sql', 'SELECT query,\n  mean_time,\n  blk_read_time\nFROM pg_stat_statements\nORDER BY total_time DESC;')}\n`,
    );
    expect(findings.map((finding) => [finding.line, finding.rule, finding.suggestion])).toEqual([
      [7, 'renamed-column', 'use mean_exec_time'],
      [8, 'renamed-column', 'use shared_blk_read_time'],
      [10, 'renamed-column', 'use total_exec_time'],
    ]);
    expect(findings[0]).toMatchObject({ severity: 'error', file: 'team.md', procedure: 'slow#slow-queries' });
    expect(findings[1]!.message).toContain('PostgreSQL 17');
  });

  it('leaves a column of the same name alone in a table that is not pg_stat_statements', () => {
    expect(lint(`# Jobs\n\n## Jobs\n\n${fence('sql', 'SELECT mean_time FROM job_stats;')}\n`)).toEqual([]);
    expect(
      lint(`# Jobs\n\n## Jobs\n\n${fence('sql', 'SELECT constructor FROM pg_stat_statements;')}\n`),
    ).toEqual([]);
  });

  it('refuses SET and SET ROLE with a placeholder and suggests set_config', () => {
    const findings = lint(
      `# RLS\n\n## Test as a user\n\n${fence('sql', "SET ROLE '<role-name>';\nSET LOCAL request.jwt.claim.sub = '[user-uuid]';\nSET search_path = public;")}\n`,
    );
    expect(findings.map((finding) => [finding.line, finding.rule])).toEqual([
      [6, 'set-parameter'],
      [7, 'set-parameter'],
    ]);
    expect(findings[0]!.message).toContain('SET ROLE cannot take a bind parameter');
    expect(findings[0]!.suggestion).toContain("SELECT set_config('role', '<role-name>', false)");
    expect(findings[1]!.suggestion).toContain(
      "SELECT set_config('request.jwt.claim.sub', '[user-uuid]', true)",
    );
  });

  it('names SET ROLE <role> in a block the parser refused, with the line', () => {
    const findings = lint(
      `# RLS\n\n## Test as a user\n\n${fence('sql', 'SET ROLE <role_name>;\nSELECT 1;')}\n`,
    );
    expect(findings.map((finding) => [finding.line, finding.rule])).toEqual([[6, 'set-parameter']]);
    expect(findings[0]!.suggestion).toContain("SELECT set_config('role', '<role_name>', false)");
  });

  it('asks for example values to be marked as parameters, and leaves real constants alone', () => {
    const sql = [
      "DELETE FROM login_attempts WHERE email = 'someone@example.org';",
      "SELECT * FROM jobs WHERE job_number IN ('JB2025-0061', 'JB2025-0062');",
      "INSERT INTO stores (store_key) VALUES ('your-store-key');",
      "UPDATE api_keys SET label = 'xxx' WHERE status = 'active';",
      "SELECT * FROM events WHERE payload->>'ref' = 'order-<order-id>';",
      "UPDATE orders SET notes = notes || ' [ARCHIVED]' WHERE status = 'delivered';",
      "SELECT * FROM flags WHERE name = 'stabilization_mode' AND kind = 'x';",
    ].join('\n');
    const findings = lint(`# Values\n\n## Values\n\n${fence('sql', sql)}\n`);
    expect(findings.map((finding) => [finding.line, finding.rule, finding.suggestion])).toEqual([
      [6, 'example-value', "if it stands for a value given at run time, mark it as a parameter: '<email>'"],
      [
        7,
        'example-value',
        "if it stands for a value given at run time, mark it as a parameter: '<job-number>'",
      ],
      [
        7,
        'example-value',
        "if it stands for a value given at run time, mark it as a parameter: '<job-number>'",
      ],
      [
        8,
        'example-value',
        "if it stands for a value given at run time, mark it as a parameter: '<store-key>'",
      ],
      [9, 'example-value', "if it stands for a value given at run time, mark it as a parameter: '<value>'"],
      [
        10,
        'example-value',
        "if it stands for a value given at run time, mark it as a parameter: '<order-id>'",
      ],
    ]);
    expect(findings.every((finding) => finding.severity === 'warning')).toBe(true);
  });

  it('flags SQL fenced as another language only when it parses as SQL', () => {
    const markdown = [
      '# Fences',
      '',
      '## Fix',
      '',
      fence('typescript', "// check the row\nSELECT status FROM jobs WHERE id = '[job-id]';"),
      '',
      fence('typescript', "import { x } from 'y';\nx();"),
      '',
      fence('bash', 'psql -c "SELECT 1"'),
      '',
      fence('sh', '# vacuum it\nVACUUM ANALYZE jobs;'),
      '',
    ].join('\n');
    const findings = lint(markdown);
    expect(
      findings.map((finding) => [finding.line, finding.rule, finding.message, finding.suggestion]),
    ).toEqual([
      [
        7,
        'sql-in-other-fence',
        'this typescript block looks like SQL (1 statement); as typescript it is a manual step the bot never runs',
        'fence it as sql to make it a step, with its // comments written as --',
      ],
      [
        21,
        'sql-in-other-fence',
        'this sh block looks like SQL (1 statement); as sh it is a manual step the bot never runs',
        'fence it as sql to make it a step',
      ],
    ]);
  });
});

describe('did you mean, and template names', () => {
  it('offers near names only', () => {
    expect(closestNames('job_db', ['jobs_db', 'customers_db', 'audit_log'])).toEqual(['jobs_db']);
    expect(closestNames('shopify_sync_queu', ['shopify_sync_queue', 'system_logs'])).toEqual([
      'shopify_sync_queue',
    ]);
    expect(closestNames('orders', ['audit_log', 'profiles'])).toEqual([]);
  });

  it('reads table_name, trigger_name, your_table as stand-ins, and real names as real', () => {
    for (const name of ['table_name', 'trigger_name', 'your_table', 'my_index', 'trigger_function', 'table'])
      expect(looksLikeTemplateName(name), name).toBe(true);
    for (const name of ['jobs_db', 'first_name', 'on_auth_user_created', 'customers'])
      expect(looksLikeTemplateName(name), name).toBe(false);
  });
});
