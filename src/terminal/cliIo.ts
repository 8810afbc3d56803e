import type { SpellCommand } from '../answer.js';

/** Where a CLI command writes and what it reads: the process, or a test's capture. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The environment the commands read (through config.ts); the process's own when unset. */
  env?: NodeJS.ProcessEnv;
  color: boolean;
  /**
   * A status line that each call overwrites ('' clears it): given only when stderr is a
   * terminal, so logs and pipes never get carriage returns.
   */
  progress?: (text: string) => void;
}

/**
 * A suggested command as the terminal writes it: `runbook-bot list`, and the incident
 * commands under `runbook-bot incident`, with the same words as in Slack.
 */
export const terminalCommand: SpellCommand = (suggestion) =>
  `runbook-bot ${suggestion.family === 'incident' ? 'incident ' : ''}${suggestion.words}`;
