import { UserError } from '../errors.js';

/**
 * The action cannot be previewed safely, so it is not executed either: the message says why,
 * for the runbook's author (e.g. a signalling call the preview cannot evaluate without it).
 */
export class PlanError extends UserError {
  override name = 'PlanError';
}
