import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  checkTable,
  checkTableOnPage,
  verdictTables,
  verdictTablesOnPage,
} from '../../scripts/docs-checks.js';
import { runCli } from '../../src/cliApp.js';
import { ENVIRONMENT_VARIABLES } from '../../src/config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).map((name) => `docs/${name}`)].filter((path) =>
  path.endsWith('.md'),
);

/** Markdown without fenced code blocks, where link syntax is only text. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const slug = heading!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** Rows of the Markdown table that follows `header` (a line starting with it). */
function tableRows(markdown: string, header: string): string[][] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.startsWith(header));
  if (start < 0) return [];
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim()),
    );
  }
  return rows;
}

describe('README', () => {
  const readme = read('README.md');

  it('is short: what it is, the two set-up commands, the walkthrough, links', () => {
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(10 * 1024);
  });

  it('names the two set-up commands that CI runs, with how long they take', () => {
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm ci && npm test');
    expect(readme).toMatch(/first\s+health\s+report[^.]*\d+ s\b/);
    expect(readme).toMatch(/`npm test`\s+takes[^.]*\d+ min\b/);
    const ci = read('.ci/run');
    expect(ci).toContain('npm test');
    expect(ci).toContain('npm run demo');
  });

  it('installs what the browser and Redis tests need, after apt-get update', () => {
    // Without the emoji font the screenshots' status emoji are blank boxes.
    for (const pkg of ['chromium', 'fonts-noto-color-emoji', 'redis-server'])
      expect(readme).toMatch(new RegExp(`apt-get update && [^\\n]*apt-get install [^\\n]*\\b${pkg}\\b`));
  });
});

describe('docs/health-checks.md', () => {
  it('holds the check table exactly as the catalog makes it (npm run docs rewrites it)', () => {
    expect(checkTableOnPage(read('docs/health-checks.md'))).toBe(checkTable());
  });
});

describe('docs/seed-runbooks.md', () => {
  // Loading the five seeds parses every SQL block: once for both tests.
  let tables: Promise<string> | undefined;
  const seedTables = () => {
    tables ??= verdictTables();
    return tables;
  };

  it('holds the verdict table of each seed runbook exactly as the loader reads it (npm run docs rewrites it)', async () => {
    const page = read('docs/seed-runbooks.md');
    const tables = await seedTables();
    expect(verdictTablesOnPage(page)).toBe(tables);
    // Every step of the five seeds has its row, and every manual step its reason.
    expect(tables.match(/^### Seed \d{3}: /gm)).toHaveLength(5);
    for (const row of tables.split('\n').filter((line) => line.includes('| manual |')))
      expect(row).toMatch(
        /\| manual \| (prose|a `\w+` block|SQL that does not parse|a code block without a language)/,
      );
  });

  it('names why a manual step stays with people, from what the loader recorded', async () => {
    const tables = await seedTables();
    expect(tables).toContain(
      '| 1. Fix | manual | a `typescript` block: not SQL, shown to a person, never run |',
    );
    expect(tables).toMatch(/\| 1\. Open Supabase SQL Editor \| manual \| prose/);
    expect(tables).toMatch(
      /\| check or action \| `SELECT \* FROM check_system_health\(\)`: decided by the target's catalog/,
    );
  });
});

describe('docs/configuration.md', () => {
  it('lists every variable src/config.ts reads, and no other', () => {
    const documented = tableRows(read('docs/configuration.md'), '| variable').flatMap((row) =>
      [...row[0]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((match) => match[1]!),
    );
    expect([...documented].sort()).toEqual([...ENVIRONMENT_VARIABLES]);
  });
});

describe('docs/operations.md', () => {
  it('lists every command `runbook-bot --help` lists, and no other', async () => {
    const out: string[] = [];
    await runCli(['--help'], {
      stdout: (text) => out.push(text),
      stderr: () => undefined,
      env: {},
      color: false,
    });
    const commands = [
      ...out
        .join('\n')
        .split('Commands:')[1]!
        .matchAll(/^ {2}([a-z-]+)/gm),
    ]
      .map((match) => match[1]!)
      .filter((name) => name !== 'help');
    expect(commands.length).toBeGreaterThan(10);
    const documented = tableRows(read('docs/operations.md'), '| command').map(
      (row) => /^`runbook-bot ([a-z-]+)`$/.exec(row[0]!)?.[1],
    );
    expect(documented).toEqual(commands);
  });
});

describe('docs/architecture.md', () => {
  const BEHAVIOURS = [
    "a check's SQL",
    '`/runbook run` accepted',
    'who may approve',
    'at-most-once execution',
    'approval expiry',
    'incident channel creation',
    'escalation wording',
    'the audit line in Slack',
    'scheduled-health decision',
    'Slack 429 handling',
    '`/healthz`',
  ];
  const rows = tableRows(read('docs/architecture.md'), '| behaviour');

  it('names the one file that holds each of the eleven behaviours, and each file exists', () => {
    expect(rows.map((row) => row[0])).toEqual(BEHAVIOURS);
    for (const [behaviour, cell] of rows) {
      const files = [...cell!.matchAll(/`(src\/[^`]+\.ts)`/g)].map((match) => match[1]!);
      expect(files.length, behaviour).toBeGreaterThan(0);
      for (const file of files) expect(existsSync(join(ROOT, file)), `${behaviour}: ${file}`).toBe(true);
    }
  });
});

describe('links in README.md and docs/', () => {
  const links = PAGES.flatMap((page) =>
    [...prose(read(page)).matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)].map((match) => ({ page, target: match[1]! })),
  );

  it('finds the links it checks', () => {
    expect(links.length).toBeGreaterThan(20);
  });

  it('point inside the repository, to files and headings that exist', () => {
    const broken: string[] = [];
    for (const { page, target } of links) {
      const say = (why: string) => broken.push(`${page}: ${target} (${why})`);
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
        say('leaves the repository');
        continue;
      }
      const [path, anchor] = target.split('#') as [string, string | undefined];
      if (isAbsolute(path)) {
        say('absolute path');
        continue;
      }
      const file = path === '' ? join(ROOT, page) : resolve(ROOT, dirname(page), path);
      const inside = relative(ROOT, file);
      if (inside.startsWith(`..${sep}`) || inside === '..') say('outside the repository');
      else if (!existsSync(file)) say('no such file');
      else if (anchor !== undefined && statSync(file).isFile() && file.endsWith('.md')) {
        if (!anchors(readFileSync(file, 'utf8')).has(anchor)) say('no such heading');
      }
    }
    expect(broken).toEqual([]);
  });

  it('name no path outside the repository, even as code', () => {
    const outside = PAGES.flatMap((page) =>
      [...read(page).matchAll(/`(\.\.\/[^`\s]*)`/g)]
        .map((match) => match[1]!)
        .filter((path) => {
          const file = resolve(ROOT, dirname(page), path);
          return relative(ROOT, file).startsWith('..') || !existsSync(file);
        })
        .map((path) => `${page}: ${path}`),
    );
    expect(outside).toEqual([]);
  });
});
