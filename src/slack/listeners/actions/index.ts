import type { App } from '@slack/bolt';
import type { ListenerDeps } from '../deps.js';
import * as approvals from './approvals.js';
import { Buttons } from './buttons.js';
import * as health from './health.js';
import * as incidents from './incidents.js';
import * as steps from './steps.js';

/** Every button, each feature's from its own file, behind the one dispatch of {@link Buttons}. */
export function register(app: App, deps: ListenerDeps): void {
  const buttons = new Buttons(deps);
  health.register(buttons, deps);
  steps.register(buttons, deps);
  approvals.register(buttons, deps);
  incidents.register(buttons, deps);
  buttons.listen(app);
}
