import type pg from 'pg';

/** What the role a target's checks run as may do beyond reading: DESIGN.md principle 8. */
export interface RolePrivileges {
  role: string;
  superuser: boolean;
  /** Member of pg_signal_backend (or superuser): may cancel and terminate other sessions. */
  canSignal: boolean;
  /** `default_transaction_read_only` is on for its sessions. */
  readOnlyByDefault: boolean;
}

/** One query, any PostgreSQL the bot supports; `pg_has_role` follows indirect membership. */
export const ROLE_PRIVILEGES_SQL = `
  SELECT current_user AS role,
         coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) AS superuser,
         coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
           OR pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS can_signal,
         current_setting('default_transaction_read_only') = 'on' AS read_only_by_default`;

export async function rolePrivileges(client: pg.ClientBase): Promise<RolePrivileges> {
  const { rows } = await client.query<{
    role: string;
    superuser: boolean;
    can_signal: boolean;
    read_only_by_default: boolean;
  }>(ROLE_PRIVILEGES_SQL);
  const row = rows[0]!;
  return {
    role: row.role,
    superuser: row.superuser,
    canSignal: row.can_signal,
    readOnlyByDefault: row.read_only_by_default,
  };
}

/**
 * The warning to show when checks run as a role that could do harm if a check ever did more
 * than read: a superuser, or a role that can signal backends. `undefined` for a read role.
 */
export function privilegeWarning(
  privileges: Pick<RolePrivileges, 'role' | 'superuser' | 'canSignal'>,
): string | undefined {
  const what = privileges.superuser
    ? 'a superuser'
    : privileges.canSignal
      ? 'a role that can cancel and terminate sessions (pg_signal_backend)'
      : undefined;
  if (!what) return undefined;
  return (
    `checks run as ${privileges.role}, ${what}: give the read connection a least-privileged role ` +
    '(`runbook-bot init-roles` prints the SQL)'
  );
}
