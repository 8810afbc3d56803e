import { runCli } from '../../src/cliApp.js';

/** Runs `runbook-bot …` in-process with captured output and quiet logs. */
export async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    env: { LOG_LEVEL: 'silent', ...env },
    color: false,
  });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}
