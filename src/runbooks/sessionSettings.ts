import pg from 'pg';
import type { BoundSetting } from './procedureParams.js';

/**
 * Sets a step's role and request settings for the current transaction only (`SET LOCAL ROLE`,
 * `set_config(…, true)`): they end with it, so the connection goes back to the pool as it
 * came. The value is bound, never spliced; a role name is quoted.
 */
export async function applySession(
  connection: pg.ClientBase,
  settings: readonly BoundSetting[],
): Promise<void> {
  for (const setting of settings) {
    if (setting.kind === 'role')
      await connection.query(`SET LOCAL ROLE ${pg.escapeIdentifier(setting.role)}`);
    else await connection.query('SELECT set_config($1, $2, true)', [setting.name, setting.value]);
  }
}

/** The settings in words for a plan: "as role authenticated, with request.jwt.claim.sub = 0f1e…". */
export function sessionWords(settings: readonly BoundSetting[]): string {
  return settings
    .map((setting) =>
      setting.kind === 'role' ? `as role ${setting.role}` : `with ${setting.name} = ${setting.value}`,
    )
    .join(', ');
}
