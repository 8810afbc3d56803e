import type { CheckQuery, ServerFacts } from './types.js';

/** What every check needs to know about the server, read once per run in one round trip. */
export async function probeServer(db: CheckQuery): Promise<ServerFacts> {
  const [row] = await db.query<{
    version_num: number;
    version: string;
    database: string;
    role: string;
    is_superuser: boolean;
    can_signal: boolean;
    can_read_all_stats: boolean;
    in_recovery: boolean;
    max_connections: number;
    pgss_schema: string | null;
    pgss_available: boolean;
  }>(
    `SELECT current_setting('server_version_num')::int AS version_num,
            current_setting('server_version') AS version,
            current_database() AS database, current_user AS role,
            coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS is_superuser,
            pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS can_read_all_stats,
            pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS can_signal,
            pg_is_in_recovery() AS in_recovery,
            current_setting('max_connections')::int AS max_connections,
            (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
              WHERE e.extname = 'pg_stat_statements') AS pgss_schema,
            EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS pgss_available`,
  );
  if (!row) throw new Error('the server probe returned no row');
  return {
    versionNum: row.version_num,
    version: row.version,
    database: row.database,
    role: row.role,
    isSuperuser: row.is_superuser,
    canSignal: row.is_superuser || row.can_signal,
    canReadAllStats: row.is_superuser || row.can_read_all_stats,
    inRecovery: row.in_recovery,
    maxConnections: row.max_connections,
    pgStatStatementsSchema: row.pgss_schema,
    pgStatStatementsAvailable: row.pgss_available,
  };
}
