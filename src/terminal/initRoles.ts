import type { Command } from 'commander';
import { parseSync } from 'libpg-query';
import { UserError } from '../errors.js';
import { loadSqlParser } from '../runbooks/sql/analyzeSqlBlock.js';
import type { CliIo } from './cliIo.js';

export interface InitRolesOptions {
  readRole: string;
  remediationRole: string;
  /** The target database, for GRANT CONNECT; the SQL is run connected to it. */
  database: string;
  schemas: string[];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * A name printed as it is, so it must read as itself: plain lower case, not a keyword
 * PostgreSQL reserves (`user`, `select`: the printed SQL would not parse), and for a role not
 * `pg_…`, which PostgreSQL keeps for its own. The real parser decides what is reserved.
 * Needs loadSqlParser() first.
 */
type NameKind = 'role' | 'schema' | 'database';

/** Where each kind of name stands in the printed SQL: parsed there, as PostgreSQL would. */
const PROBE: Record<NameKind, (name: string) => string> = {
  role: (name) => `CREATE ROLE ${name}`,
  schema: (name) => `GRANT USAGE ON SCHEMA ${name} TO r`,
  database: (name) => `GRANT CONNECT ON DATABASE ${name} TO r`,
};

function identifier(value: string, what: string, kind: NameKind): string {
  if (!IDENTIFIER.test(value))
    throw new UserError(
      `${what} "${value}" is not accepted: use lower-case letters, digits and _ (at most 63), starting with a letter or _`,
    );
  if (kind === 'role' && value.startsWith('pg_'))
    throw new UserError(
      `${what} "${value}" is not accepted: role names starting with pg_ are PostgreSQL's own`,
    );
  try {
    parseSync(PROBE[kind](value));
  } catch {
    throw new UserError(
      `${what} "${value}" is not accepted: it is a keyword PostgreSQL reserves; choose another name`,
    );
  }
  return value;
}

/**
 * The SQL for two roles, run by an administrator connected to the target database: a read
 * role for checks and health reports (pg_monitor, read-only by default, no signal rights),
 * and a separate remediation role for approved actions. Passwords are left to the
 * administrator (`\password`), so none is ever printed or stored in shell history.
 */
export function initRolesSql(options: InitRolesOptions): string {
  const read = identifier(options.readRole, '--read-role', 'role');
  const fix = identifier(options.remediationRole, '--remediation-role', 'role');
  const database = identifier(options.database, '--database', 'database');
  const schemas = options.schemas.map((schema) => identifier(schema, '--schema', 'schema'));
  if (read === fix) throw new UserError('--read-role and --remediation-role must be different roles');
  const perSchema = (role: string, privileges: string) =>
    schemas.flatMap((schema) => [
      `GRANT USAGE ON SCHEMA ${schema} TO ${role};`,
      `GRANT ${privileges} ON ALL TABLES IN SCHEMA ${schema} TO ${role};`,
      `ALTER DEFAULT PRIVILEGES IN SCHEMA ${schema} GRANT ${privileges} ON TABLES TO ${role};`,
    ]);
  return [
    `-- runbook-bot roles for database ${database}. Run as an administrator connected to ${database},`,
    '-- then set each password with \\password <role> and put the roles in the target URLs.',
    '',
    '-- Read role: what checks, procedure checks and health reports run as (the read-only URL).',
    '-- pg_monitor reads every statistics view; no pg_signal_backend, so it cannot cancel or',
    '-- terminate sessions; every transaction it starts is read-only unless it asks otherwise.',
    `CREATE ROLE ${read} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;`,
    `GRANT pg_monitor TO ${read};`,
    `ALTER ROLE ${read} SET default_transaction_read_only = on;`,
    `ALTER ROLE ${read} SET statement_timeout = '30s';`,
    `GRANT CONNECT ON DATABASE ${database} TO ${read};`,
    ...perSchema(read, 'SELECT'),
    '',
    '-- Remediation role: what approved actions run as (the remediation URL). Signals reach only',
    '-- non-superuser sessions; VACUUM, ANALYZE and REINDEX of tables it does not own need',
    '-- pg_maintain (PostgreSQL 17 and later) or ownership.',
    `CREATE ROLE ${fix} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;`,
    `GRANT pg_monitor TO ${fix};`,
    `GRANT pg_signal_backend TO ${fix};`,
    `ALTER ROLE ${fix} SET statement_timeout = '60s';`,
    `GRANT CONNECT ON DATABASE ${database} TO ${fix};`,
    ...perSchema(fix, 'SELECT, INSERT, UPDATE, DELETE'),
    `-- GRANT pg_maintain TO ${fix};  -- PostgreSQL 17+, if runbooks VACUUM or REINDEX`,
    '',
  ].join('\n');
}

export function addInitRolesCommand(program: Command, io: CliIo): void {
  program
    .command('init-roles')
    .description(
      'Print the SQL for a least-privileged read role (checks) and a separate remediation role (approved actions)',
    )
    .option('--read-role <name>', 'role for checks and health reports', 'runbook_bot_read')
    .option('--remediation-role <name>', 'role for approved actions', 'runbook_bot_remediate')
    .option('--database <name>', 'the target database', 'postgres')
    .option(
      '--schema <name>',
      'schema whose tables the roles may read (repeatable; default public)',
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .action(
      async (options: { readRole: string; remediationRole: string; database: string; schema?: string[] }) => {
        await loadSqlParser();
        io.stdout(
          initRolesSql({
            readRole: options.readRole,
            remediationRole: options.remediationRole,
            database: options.database,
            schemas: options.schema ?? ['public'],
          }),
        );
      },
    );
}
