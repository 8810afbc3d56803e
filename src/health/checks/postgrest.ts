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
      `SELECT n.nspname AS schema, c.relname AS table, count(*) OVER ()::int AS total_rows
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')
          AND NOT has_table_privilege('anon', c.oid, 'SELECT')
          AND NOT has_table_privilege('authenticated', c.oid, 'SELECT')
        ORDER BY c.relname LIMIT $1`,
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
      `SELECT n.nspname AS schema, c.relname AS table,
              CASE WHEN has_table_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE') THEN 'anon'
                   ELSE 'authenticated' END AS open_to,
              count(*) OVER ()::int AS total_rows
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
          AND (has_table_privilege('anon', c.oid, 'SELECT, INSERT, UPDATE, DELETE')
               OR has_table_privilege('authenticated', c.oid, 'SELECT, INSERT, UPDATE, DELETE'))
        ORDER BY 3, c.relname LIMIT $1`,
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
