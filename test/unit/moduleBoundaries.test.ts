import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The module graph as the processes load it: static imports only (`import type` erases,
 * `await import()` is loaded only by the mode that reaches it). Read from the sources, so
 * a new top-level import that drags a heavy package into the wrong process fails here.
 */
// Not import.meta.dirname: that needs Node 20.11, and the package supports every Node 20.
const SRC = fileURLToPath(new URL('../../src', import.meta.url));
/** A module as the messages name it: a path under src/, or a package. */
const shown = (module: string): string => (module.startsWith('/') ? relative(SRC, module) : module);
const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?(['"])([^'"]+)\3/gm;
/** `await import('…')`, and `import('…').Type` in a type position. */
const IMPORT_CALL = /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g;

/**
 * What a file imports. `withTypes`: type-only imports too, and import() calls (dynamic
 * imports and inline import types): everything the file can reach, not only what loads with it.
 */
function importsOf(file: string, withTypes: boolean): string[] {
  const found: string[] = [];
  const text = readFileSync(file, 'utf8');
  const add = (specifier: string) =>
    found.push(
      specifier.startsWith('.') ? resolve(dirname(file), specifier.replace(/\.js$/, '.ts')) : specifier,
    );
  for (const [, , typeOnly, , specifier] of text.matchAll(IMPORT)) {
    if (typeOnly && !withTypes) continue;
    if (specifier) add(specifier);
  }
  if (withTypes) for (const [, , specifier] of text.matchAll(IMPORT_CALL)) if (specifier) add(specifier);
  return found;
}

/** Every module and package reached from the entries, each with the chain that reaches it. */
function reach(entries: string[], withTypes = false): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  const queue = entries.map((entry) => join(SRC, entry));
  for (const entry of queue) chains.set(entry, [relative(SRC, entry)]);
  while (queue.length > 0) {
    const file = queue.shift() as string;
    for (const target of importsOf(file, withTypes)) {
      if (chains.has(target) || target.startsWith('node:')) continue;
      const name = shown(target);
      chains.set(target, [...(chains.get(file) ?? []), name]);
      if (target.startsWith('/') && target.endsWith('.ts')) queue.push(target);
    }
  }
  return chains;
}

function offenders(reached: Map<string, string[]>, forbidden: RegExp): string[] {
  return [...reached.entries()]
    .filter(([module]) => forbidden.test(shown(module)))
    .map(([, chain]) => chain.join(' → '));
}

describe('what each process loads', () => {
  it('the bot loads no job processors, migration runner or runbook parsers (they run in workers or child processes)', () => {
    const bot = reach(['main.ts', 'service.ts', 'slack/app.ts']);
    expect(
      offenders(
        bot,
        /^(libpg-query|node-pg-migrate|mdast-|micromark|service\/startWorkers\.ts|health\/healthJob\.ts|slack\/posts\/(notifier|requestCard|procedurePosts|incidentPosts|scheduledHealthPost|auditCheckpoints)\.ts|runbooks\/execute\/procedureJob\.ts|approvals\/(jobs|preview|expiry|execution)\.ts)/,
      ),
    ).toEqual([]);
    // The walk does see through the graph: the bot does load Bolt and the queue.
    expect(bot.has('@slack/bolt')).toBe(true);
    expect(bot.has('bullmq')).toBe(true);
  });

  it('a worker loads neither Bolt nor the migration runner', () => {
    const worker = reach(['main.ts', 'service.ts', 'service/startWorkers.ts']);
    expect(offenders(worker, /^(@slack\/bolt|node-pg-migrate|slack\/app\.ts)/)).toEqual([]);
    expect(worker.has('libpg-query')).toBe(true);
  });

  it('the job catalog, which the domain and the bot import, reaches neither Slack nor a processor', () => {
    const catalog = reach(['jobs/catalog.ts', 'jobs/catalogQueue.ts', 'jobs/processors.ts'], true);
    const modules = [...catalog.keys()].map(shown);
    expect(
      modules.filter((module) => /^(@slack\/|slack\/|service\/|approvals\/|health\/)/.test(module)),
    ).toEqual([]);
    expect(modules).toContain('bullmq');
  });
});

/**
 * The module `runbook-bot <command>` imports for its command, as cliApp.ts's COMMAND_MODULES
 * names it (read from the source, as the graph is).
 */
function cliCommandModule(command: string): string {
  const source = readFileSync(join(SRC, 'cliApp.ts'), 'utf8');
  const entry = new RegExp(
    `commands: \\[[^\\]]*'${command}'[^\\]]*\\][^}]*?import\\('\\./([^']+)\\.js'\\)`,
  ).exec(source);
  if (!entry) throw new Error(`cliApp.ts names no module for the ${command} command`);
  return `${entry[1]}.ts`;
}

describe('what a runbook-bot command loads', () => {
  it('every command shares only cli.ts and cliApp.ts: no command module is imported until its command runs', () => {
    const shared = reach(['cli.ts']);
    expect(offenders(shared, /^terminal\/(\w+Cli|initRoles)\.ts$/)).toEqual([]);
    expect(shared.has('commander')).toBe(true);
  });

  it('`health` reaches neither the Markdown nor the SQL parser, nor the queue, the audit log or date formatting', () => {
    const module = cliCommandModule('health');
    expect(module).toBe('terminal/healthCli.ts');
    const health = reach(['cli.ts', module]);
    expect(
      offenders(
        health,
        /^(libpg-query|mdast-|micromark|unified|bullmq|ioredis|date-fns|@date-fns\/|yaml|cron-parser|runbooks\/(markdown|sql|lint|execute)\/|audit\/|store\/|terminal\/(runbookCli|incidentCli|auditCli|previewCli|historyCli|initRoles)\.ts)/,
      ),
    ).toEqual([]);
    // The walk does see the command's own graph: the engine, its checks and the driver.
    expect(health.has(join(SRC, 'health/engine.ts'))).toBe(true);
    expect(health.has('pg')).toBe(true);
  });
});

/** The folders that hold the domain: they know no chat platform, not even through another module. */
const DOMAIN_DIRS = ['runbooks', 'approvals', 'incidents', 'audit', 'remediation', 'targets', 'health'];
const SLACK = /^(@slack\/|slack\/)/;

describe('the domain never reaches Slack', () => {
  it('no path of imports (runtime or type) leads from a domain module to Slack or Bolt', () => {
    const domain = DOMAIN_DIRS.flatMap((dir) =>
      readdirSync(join(SRC, dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts'))
        .map((file) => join(dir, file)),
    );
    const paths = domain.flatMap((file) => {
      const reached = reach([file], true);
      const first = [...reached.entries()].find(([module]) => SLACK.test(shown(module)));
      return first ? [first[1].join(' → ')] : [];
    });
    expect(paths).toEqual([]);
  });

  it('no domain module writes Slack syntax (mentions, channel links, mrkdwn escapes) itself', () => {
    // A person or a channel leaves the domain as an id; each medium renders it (audit/describe.ts).
    // `<@` followed by a space is SQL's array containment, not a mention.
    const slackSyntax = /<[@#!][A-Z$]|&(?:lt|gt|amp);/;
    const problems = DOMAIN_DIRS.flatMap((dir) =>
      readdirSync(join(SRC, dir), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.ts'))
        .flatMap((file) =>
          readFileSync(join(SRC, dir, file), 'utf8')
            .split('\n')
            .flatMap((line, index) =>
              // Comments may name what they keep out.
              !/^\s*(\*|\/\/)/.test(line) && slackSyntax.test(line)
                ? [`${dir}/${file}:${index + 1}: ${line.trim()}`]
                : [],
            ),
        ),
    );
    expect(problems).toEqual([]);
  });
});
