import { plural } from '../../text.js';
import { topRows } from '../checkKit.js';
import type { CheckContext, CheckDefinition } from '../types.js';

/** Roles PostgREST (and so Supabase's API) switches to for requests. */
const API_ROLES = ['anon', 'authenticated'];

async function hasApiRoles(ctx: CheckContext): Promise<boolean> {
  const [roles] = await ctx.db.query<{ present: number }>(
    'SELECT count(*)::int AS present FROM pg_roles WHERE rolname = ANY($1::text[])',
    [API_ROLES],
  );
  return (roles?.present ?? 0) === API_ROLES.length;
}

/**
 * Public tables of the given kinds, each with whether anon and authenticated hold the given
 * privileges (has_table_privilege). For these kinds outside the system catalogs the answer
 * depends only on the table's ACL and owner (superuser and pg_read_all_data are the role's
 * own), so it is asked once per distinct ACL and owner rather than once per table: on 50,000
 * tables the per-table call, a catalog cache miss and an ACL walk each, took 0.5-1.2 s.
 * Joined back on the ACL itself (hashable), never on the owner alone, which would compare
 * every table with every ACL of its owner. The count of tables comes from the verdicts too:
 * count(*) OVER () would hold every matching table (50,000 when none has RLS) before the sort.
 */
function apiPrivileges(kinds: string, privileges: string, extraCondition = 'true'): string {
  return `WITH tables AS NOT MATERIALIZED (
         SELECT n.nspname, c.relname, coalesce(c.relacl, acldefault('r', c.relowner)) AS acl, c.relowner, c.oid
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN (${kinds}) AND ${extraCondition}
       ), verdicts AS MATERIALIZED (
         SELECT acl, relowner, count(*) AS tables, has_table_privilege('anon', min(oid), '${privileges}') AS anon,
                has_table_privilege('authenticated', min(oid), '${privileges}') AS authenticated
           FROM tables GROUP BY acl, relowner
       ), api_tables AS (
         SELECT t.nspname, t.relname, v.anon, v.authenticated FROM tables t JOIN verdicts v USING (acl, relowner)
       )`;
}

export const postgrestGrants: CheckDefinition = {
  id: 'postgrest_grants',
  title: 'API grants (PostgREST / Supabase)',
  description:
    'Tables in the public schema that neither anon nor authenticated may read: after a migration this is a cause of "PGRST002" and empty API results (seed runbook). Skipped where those roles do not exist.',
  thresholds: [],
  remediation: {
    procedure: 'postgres-health#restore-api-access',
    params: { schema: 'schema', table: 'table' },
    text: "GRANT SELECT ON the table TO anon, authenticated (as RLS allows), then NOTIFY pgrst, 'reload schema'.",
  },
  async run(ctx) {
    if (!(await hasApiRoles(ctx)))
      return { status: 'skipped', summary: 'not a PostgREST database (no anon and authenticated roles)' };
    const { evidence, total } = await topRows(
      ctx,
      `${apiPrivileges("'r', 'v', 'm', 'p'", 'SELECT')}
       SELECT nspname AS schema, relname AS table,
              (SELECT sum(tables) FROM verdicts WHERE NOT anon AND NOT authenticated)::int AS total_rows
         FROM api_tables WHERE NOT anon AND NOT authenticated
        ORDER BY relname LIMIT $1`,
    );
    if (total === 0) return { status: 'ok', summary: 'the API roles can read every public table' };
    return {
      status: 'warn',
      summary: `${plural(total, 'public table')} the API cannot read: ${evidence.map((row) => row.table).join(', ')}`,
      evidence,
      evidenceTotal: total,
    };
  },
};

export const rlsDisabled: CheckDefinition = {
  id: 'rls_disabled',
  title: 'Exposed tables without row-level security',
  description:
    'Tables in the public schema that anon or authenticated may read or change while row-level security is off: through the API (PostgREST / Supabase) every row is open to anyone holding the key. Skipped where those roles do not exist.',
  thresholds: [],
  remediation: {
    procedure: 'postgres-health#enable-row-level-security',
    params: { table: 'table' },
    text: "Write its policies, then ALTER TABLE … ENABLE ROW LEVEL SECURITY (or revoke the API roles' privileges if it is not meant for the API).",
  },
  async run(ctx) {
    if (!(await hasApiRoles(ctx)))
      return { status: 'skipped', summary: 'not a PostgREST database (no anon and authenticated roles)' };
    // Worst first: what anon (no login at all) can reach, then what any signed-in user can.
    const { evidence, total } = await topRows(
      ctx,
      `${apiPrivileges("'r', 'p'", 'SELECT, INSERT, UPDATE, DELETE', 'NOT c.relrowsecurity')}
       SELECT nspname AS schema, relname AS table, CASE WHEN anon THEN 'anon' ELSE 'authenticated' END AS open_to,
              (SELECT sum(tables) FROM verdicts WHERE anon OR authenticated)::int AS total_rows
         FROM api_tables WHERE anon OR authenticated
        ORDER BY 3, relname LIMIT $1`,
    );
    if (total === 0)
      return { status: 'ok', summary: 'every table the API roles can reach has row-level security on' };
    const toAnon = evidence.some((row) => row.open_to === 'anon');
    return {
      status: toAnon ? 'critical' : 'warn',
      summary: `${plural(total, 'public table')} open through the API without row-level security: ${evidence.map((row) => row.table).join(', ')}`,
      evidence,
      evidenceTotal: total,
    };
  },
};
