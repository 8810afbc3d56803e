import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { TargetRegistry, type UnknownTargetError } from '../../src/targets/registry.js';

const dir = mkdtempSync(join(tmpdir(), 'targets-test-'));
let counter = 0;
function file(yaml: string): string {
  const path = join(dir, `targets-${counter++}.yml`);
  writeFileSync(path, yaml);
  return path;
}

/** The registry as the service builds it from these variables. */
const loadTargetRegistry = (env: NodeJS.ProcessEnv) => loadConfig(env).targets;

const PROD_URL = 'postgres://ops:s3cret@db.example.com:5432/app';

describe('targets', () => {
  it('reads named targets from a file that names environment variables', () => {
    const path = file(`
default: prod
defaults:
  statement_timeout_ms: 3000
targets:
  prod:
    url_env: PROD_DATABASE_URL
    description: production
    tags: [production]
    lock_timeout_ms: 500
    max_rows: 5000
    batched_dml: true
    thresholds:
      connections.warn: 100
    runbooks: [database-operations-runbook]
    procedure_schedules:
      - procedure: database-operations-runbook#morning-checklist-9-am
        at: "09:00"
        tz: Europe/London
        channel: C0DBOPS
  staging:
    url_env: STAGING_DATABASE_URL
`);
    const registry = loadTargetRegistry({
      TARGETS_FILE: path,
      PROD_DATABASE_URL: PROD_URL,
      STAGING_DATABASE_URL: 'postgresql://localhost/staging',
    });
    expect(registry.names()).toEqual(['prod', 'staging']);
    const prod = registry.resolve();
    expect(prod).toMatchObject({
      name: 'prod',
      url: PROD_URL,
      tags: ['production'],
      settings: {
        statementTimeoutMs: 3000,
        lockTimeoutMs: 500,
        connectTimeoutMs: 5000,
        poolMax: 2,
        maxRows: 5000,
        batchedDml: true,
      },
      thresholdOverrides: { 'connections.warn': '100' },
      runbooks: ['database-operations-runbook'],
      procedureSchedules: [
        {
          procedure: 'database-operations-runbook#morning-checklist-9-am',
          at: '09:00',
          tz: 'Europe/London',
          channel: 'C0DBOPS',
        },
      ],
    });
    expect(registry.resolve('staging').runbooks).toBeUndefined();
    expect(registry.resolve('staging').settings.statementTimeoutMs).toBe(3000);
    expect(registry.resolve('staging').settings.batchedDml).toBeUndefined();
    // The DML row limit: the target's own, else 1,000.
    expect(prod.settings.maxRows).toBe(5000);
    expect(registry.resolve('staging').settings.maxRows).toBe(1000);
  });

  it('takes a single target from TARGET_DATABASE_URL', () => {
    const registry = loadTargetRegistry({ TARGET_DATABASE_URL: PROD_URL });
    expect(registry.resolve()).toMatchObject({ name: 'default', source: 'TARGET_DATABASE_URL' });
  });

  it('names the file, the key and the problem, without the secret', () => {
    const path = file(`
targets:
  prod:
    url_env: PROD_DATABASE_URL
  bad:
    url_env: postgres://user:pw@host/db
  Upper:
    url_env: X
  staging:
    url_env: STAGING_URL
    pool_max: 99
    max_rows: 0
    colour: blue
    runbooks: database-operations-runbook
    procedure_schedules:
      - procedure: a#b
        at: "9am"
      - procedure: a#b
        at: "09:00"
        cron: "0 9 * * *"
      - procedure: a#b
        channel: dbops
`);
    let message = '';
    try {
      loadTargetRegistry({ TARGETS_FILE: path });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toContain(`${path} is not a valid targets file`);
    expect(message).toContain('targets.bad.url_env: must be the NAME of an environment variable');
    expect(message).toContain(
      'targets.Upper: invalid name: target names are lowercase letters, digits, - and _',
    );
    expect(message).toMatch(/targets\.staging\.pool_max: .*20/);
    expect(message).toMatch(/targets\.staging\.max_rows: .*1/);
    expect(message).toContain('targets.staging: unknown key "colour"');
    expect(message).toMatch(/targets\.staging\.runbooks: .*array/);
    expect(message).toContain(
      'targets.staging.procedure_schedules.0.at: must be a time of day as HH:MM, e.g. "09:00" or "18:00"',
    );
    expect(message).toContain(
      'targets.staging.procedure_schedules.1: give either cron ("0 9 * * 1-5") or at ("09:00"), not both and not neither',
    );
    expect(message).toContain(
      'targets.staging.procedure_schedules.2.channel: must be a Slack channel id like C0123ABCD',
    );
    expect(message).not.toContain('user:pw');
  });

  it('reports an environment variable that is missing or holds no postgres URL', () => {
    const path = file('targets:\n  prod:\n    url_env: PROD_DATABASE_URL\n  ro:\n    url_env: RO_URL\n');
    expect(() => loadTargetRegistry({ TARGETS_FILE: path, RO_URL: 'mysql://x' })).toThrowError(
      /targets.prod.url_env: environment variable PROD_DATABASE_URL is not set[\s\S]*targets.ro.url_env: environment variable RO_URL does not hold a postgres/,
    );
  });

  it('reports unreadable files, bad YAML and an unknown default', () => {
    expect(() => loadTargetRegistry({ TARGETS_FILE: join(dir, 'missing.yml') })).toThrowError(
      /cannot be read \(ENOENT\)/,
    );
    expect(() => loadTargetRegistry({ TARGETS_FILE: file('targets: [unclosed') })).toThrowError(
      /is not valid YAML/,
    );
    const path = file('default: nope\ntargets:\n  prod:\n    url_env: P\n');
    expect(() => loadTargetRegistry({ TARGETS_FILE: path, P: PROD_URL })).toThrowError(
      /default: "nope" is not one of the targets \(prod\)/,
    );
  });

  it('says which targets exist when an unknown one is asked for', () => {
    const registry = loadTargetRegistry({ TARGET_DATABASE_URL: PROD_URL });
    expect(() => registry.resolve('prd')).toThrowError('Unknown target "prd". Known targets: default.');
    expect(() => loadTargetRegistry({}).resolve()).toThrowError(/Set TARGET_DATABASE_URL, or TARGETS_FILE/);
  });

  it('offers the closest names for a typo, and keeps a fleet of 200 names out of the message', () => {
    const fleet = Array.from({ length: 200 }, (_, i) => `tenant-${String(i).padStart(3, '0')}`);
    const registry = new TargetRegistry(
      fleet.map((name) => ({ ...loadTargetRegistry({ TARGET_DATABASE_URL: PROD_URL }).resolve(), name })),
    );
    expect(() => registry.resolve('tenat-077')).toThrowError(
      /^Unknown target "tenat-077". Did you mean "tenant-077"/,
    );
    let error: unknown;
    try {
      registry.resolve();
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).toBe(
      `200 targets are configured; name one: ${fleet.slice(0, 20).join(', ')} and 180 more.`,
    );
    expect((error as UnknownTargetError).suggestions.map((s) => s.words)).toEqual(['targets']);
    expect(() => registry.resolve('billing')).toThrowError(/Known targets: tenant-000, .* and 180 more\./);
  });

  it('refuses a tag that tag:<tag> and --tag could not name, saying what a tag may hold', () => {
    const path = file('targets:\n  prod:\n    url_env: P\n    tags: ["team/payments"]\n');
    expect(() => loadConfig({ TARGETS_FILE: path, P: PROD_URL })).toThrowError(
      /a tag is letters, digits, \., - and _/,
    );
  });

  it('validates threshold overrides in the file at load time', () => {
    const path = file('targets:\n  prod:\n    url_env: P\n    thresholds:\n      connections.warm: 5\n');
    expect(() => loadConfig({ TARGETS_FILE: path, P: PROD_URL })).toThrowError(
      /Invalid threshold in .*targets-\d+\.yml: targets.prod:\n {2}- connections.warm: check connections has no threshold "warm"/,
    );
  });

  it('refuses a warn threshold at or past its critical one, naming both and where each came from', () => {
    const path = file('targets:\n  prod:\n    url_env: P\n    thresholds:\n      connections.warn: 150\n');
    expect(() => loadConfig({ TARGETS_FILE: path, P: PROD_URL })).toThrowError(
      /^Thresholds that cannot work:\n {2}- connections\.warn 150 \(.*targets-\d+\.yml: targets\.prod thresholds\) is not below connections\.critical 80 \(the default\), so it could never warn before it is critical: set connections\.warn below 80, or connections\.critical above 150$/,
    );
    // Raised together, they work.
    const both = file(
      'targets:\n  prod:\n    url_env: P\n    thresholds:\n      connections.warn: 150\n      connections.critical: 200\n',
    );
    expect(loadConfig({ TARGETS_FILE: both, P: PROD_URL }).targets.list()).toHaveLength(1);
  });

  it('rejects a TARGET_DATABASE_URL that is not a postgres URL', () => {
    expect(() => loadTargetRegistry({ TARGET_DATABASE_URL: 'localhost:5432' })).toThrowError(
      'TARGET_DATABASE_URL is not a postgres:// or postgresql:// URL.',
    );
  });
});
