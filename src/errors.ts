import type { Suggestion } from './answer.js';

/**
 * An error the user caused (bad input, bad configuration). Its message is written for the
 * user: what was wrong and how to fix it. Anything else that is thrown is a bug or an
 * outage and is logged with context.
 */
export class UserError extends Error {
  override name = 'UserError';
  /** Commands worth trying instead, which the medium that shows the message spells. */
  readonly suggestions: readonly Suggestion[];

  constructor(message: string, options: { suggestions?: readonly Suggestion[] } = {}) {
    super(message);
    this.suggestions = options.suggestions ?? [];
  }
}

/** Configuration that cannot be used: a bad environment variable or targets file. */
export class ConfigError extends UserError {
  override name = 'ConfigError';
}

/** A target database that could not be reached: the command was fine, the database is not. */
export class TargetUnreachableError extends UserError {
  override name = 'TargetUnreachableError';
}
