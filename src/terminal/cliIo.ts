/** Where a CLI command writes and what it reads: the process, or a test's capture. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The environment the commands read (through config.ts); the process's own when unset. */
  env?: NodeJS.ProcessEnv;
  color: boolean;
}
