import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ENVIRONMENT_VARIABLES,
  loadAuditSettings,
  loadConfig,
  loadDemoSettings,
  loadServiceConfig,
  loadTerminalSettings,
  startupLogLevel,
} from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|mjs)$/.test(entry.name) ? [path] : [];
  });
}

/** An environment that records every name read from it. */
function recordingEnv(values: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; read: Set<string> } {
  const read = new Set<string>();
  const env = new Proxy(values, {
    get(target, name) {
      if (typeof name === 'string') read.add(name);
      return target[name as string];
    },
  });
  return { env, read };
}

describe('the environment', () => {
  it('is read in src/config.ts and nowhere else in src/', () => {
    const readers = sourceFiles(SRC)
      .filter((path) => !path.endsWith(join('src', 'config.ts')))
      .filter((path) => {
        const text = readFileSync(path, 'utf8');
        // process.env itself, or a variable read by name (or by a computed name) from an env object handed around.
        return (
          /process\.env\b/.test(text) ||
          /\benv\??\.[A-Z][A-Z0-9_]{2,}\b/.test(text) ||
          /\benv\??\.?\[/.test(text)
        );
      })
      .map((path) => relative(SRC, path));
    expect(readers).toEqual([]);
  });

  it('is read only by the names ENVIRONMENT_VARIABLES lists (and those a targets file gives)', () => {
    const { env, read } = recordingEnv({
      SLACK_BOT_TOKEN: 'xoxb-test',
      SLACK_SIGNING_SECRET: 'a-signing-secret',
      TARGET_DATABASE_URL: 'postgres://monitor@db.example.com/postgres',
    });
    loadConfig(env);
    loadServiceConfig(env, { mode: 'all' });
    loadAuditSettings(env);
    loadTerminalSettings(env);
    loadDemoSettings({ check: false }, env);
    startupLogLevel(env);
    const unlisted = [...read].filter(
      (name) => /^[A-Z][A-Z0-9_]+$/.test(name) && !ENVIRONMENT_VARIABLES.includes(name),
    );
    expect(unlisted).toEqual([]);
    // And the list is not longer than what is read.
    expect(ENVIRONMENT_VARIABLES.filter((name) => !read.has(name))).toEqual([]);
  });

  it('keeps the messages for bad values', () => {
    expect(() => loadDemoSettings({ check: false }, { CONSOLE_PORT: '70000' })).toThrow(
      new ConfigError('CONSOLE_PORT must be a port number (0-65535), not "70000".'),
    );
    expect(loadDemoSettings({ check: true }, { CONSOLE_PORT: '' }).consolePort).toBe(0);
    expect(loadDemoSettings({ check: false }, {}).consolePort).toBe(3100);
    expect(loadDemoSettings({ check: false }, {}).logLevel).toBe('warn');
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/Invalid environment:\n.*LOG_LEVEL/);
    // The server's logger still starts, so the bad value is reported by loadConfig, by name.
    expect(startupLogLevel({ LOG_LEVEL: 'loud' })).toBe('info');
    expect(startupLogLevel({ LOG_LEVEL: 'debug' })).toBe('debug');
    expect(loadTerminalSettings({ NO_COLOR: '' }).noColor).toBe(false);
    expect(loadTerminalSettings({ NO_COLOR: '1' }).noColor).toBe(true);
    expect(loadTerminalSettings({ DATABASE_URL: '' }).stateDatabaseUrl).toBeUndefined();
  });
});
