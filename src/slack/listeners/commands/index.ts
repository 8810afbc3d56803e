import type { App } from '@slack/bolt';
import type { ListenerDeps } from '../deps.js';
import * as incident from './incident.js';
import * as runbook from './runbook.js';

/** The slash commands the manifest declares (manifest.yml); Slack sends no others. */
export const COMMANDS = ['/runbook', '/incident'];

export function register(app: App, deps: ListenerDeps): void {
  runbook.register(app, deps);
  incident.register(app, deps);
}
