import type { App } from '@slack/bolt';
import * as actions from './actions/index.js';
import * as commands from './commands/index.js';
import type { ListenerDeps } from './deps.js';
import * as views from './views/index.js';

/** What Slack may send the bot: anything else is answered by the request guard before Bolt. */
export const LISTENED = { commands: commands.COMMANDS, views: views.VIEWS };

/** Every listener of the bot, by kind, in the style of Bolt's sample apps. */
export function registerListeners(app: App, deps: ListenerDeps): void {
  commands.register(app, deps);
  actions.register(app, deps);
  views.register(app, deps);
}
