import type { App } from '@slack/bolt';
import { ACTIONS } from '../../actionIds.js';
import type { ListenerDeps } from '../deps.js';
import * as parameters from './parameters.js';

/** The modals the bot opens (their submissions are all it listens for). */
export const VIEWS = [ACTIONS.parametersModal];

export function register(app: App, deps: ListenerDeps): void {
  parameters.register(app, deps);
}
