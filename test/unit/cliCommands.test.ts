import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMAND_MODULES, runCli } from '../../src/cliApp.js';

const quietIo = { stdout: () => undefined, stderr: () => undefined, env: {}, color: false };

describe('the CLI imports the module of the command it runs', () => {
  it.each(COMMAND_MODULES.map((module) => [module.commands.join(', '), module] as const))(
    '%s: the module adds exactly the commands COMMAND_MODULES routes to it',
    async (_, module) => {
      const program = new Command();
      (await module.load())(program, quietIo, () => undefined);
      expect(program.commands.map((command) => command.name())).toEqual(module.commands);
    },
  );

  it('`health --help` is the help of health, and `--help` (no command) lists every command', async () => {
    const help = async (argv: string[]) => {
      const out: string[] = [];
      await runCli(argv, { ...quietIo, stdout: (text) => out.push(text) });
      return out.join('\n');
    };
    expect(await help(['health', '--help'])).toContain('--all');
    const all = await help(['--help']);
    for (const command of COMMAND_MODULES.flatMap((module) => module.commands))
      expect(all).toMatch(new RegExp(`^ {2}${command}\\b`, 'm'));
  });

  it('a mistyped command is still answered with the command it resembles', async () => {
    const err: string[] = [];
    const code = await runCli(['helth'], { ...quietIo, stderr: (text) => err.push(text) });
    expect(code).toBe(3);
    expect(err.join('\n')).toMatch(/Did you mean health\?/);
  });
});
