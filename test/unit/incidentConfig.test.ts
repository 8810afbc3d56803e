import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'incident-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = { SLACK_BOT_TOKEN: 'xoxb-test-token' };

function policyFile(name: string, yaml: string): string {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}

function load(env: Record<string, string>) {
  return loadServiceConfig({ ...BASE, ...env }, { mode: 'worker' }).incidents;
}

describe('incident configuration', () => {
  it("reads the policy file's incidents section beside its approval rules", () => {
    const path = policyFile(
      'good.yml',
      [
        'defaults: { approvals: 1 }',
        'incidents:',
        '  severities:',
        '    P1: { response: 5 minutes, page: true }',
        '  escalation:',
        '    - { name: On-call engineer, groups: [S0ONCALL] }',
        '    - { name: Database admin, groups: [S0DBA], after: 1h, severities: [P0] }',
      ].join('\n'),
    );
    const settings = load({ POLICY_FILE: path });
    expect(settings.policy.severities?.P1).toEqual({ response: 5 * 60_000, page: true });
    expect(settings.policy.escalation?.[1]).toEqual({
      name: 'Database admin',
      groups: ['S0DBA'],
      after: 3_600_000,
      severities: ['P0'],
    });
    expect(settings.pager).toEqual({});
  });

  it('refuses a bad section naming the key and what to write', () => {
    const path = policyFile('bad.yml', 'incidents:\n  severities:\n    P0: { response: pronto }\n');
    expect(() => load({ POLICY_FILE: path })).toThrow(ConfigError);
    expect(() => load({ POLICY_FILE: path })).toThrow(
      /incidents\.severities\.P0\.response: "pronto" is not a duration: write "immediate", "5 minutes"/,
    );
  });

  it('refuses two escalation paths at once', () => {
    const path = policyFile('levels.yml', 'incidents:\n  escalation:\n    - { name: On-call }\n');
    expect(() => load({ POLICY_FILE: path, INCIDENT_ESCALATION: 'On-call,Lead' })).toThrow(
      /INCIDENT_ESCALATION and the escalation levels of POLICY_FILE .* both name the escalation path: keep one/,
    );
    expect(load({ INCIDENT_ESCALATION: 'On-call, Lead' }).escalationNames).toEqual(['On-call', 'Lead']);
  });

  it('turns each pager on by its key, with its EU base when given, and says what a key looks like', () => {
    const pager = load({
      PAGERDUTY_ROUTING_KEY: 'R0UTINGKEY0123456789abcdefABCDEF',
      OPSGENIE_API_KEY: '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0',
      OPSGENIE_API_URL: 'https://api.eu.opsgenie.com',
    }).pager;
    expect(pager).toEqual({
      pagerduty: { routingKey: 'R0UTINGKEY0123456789abcdefABCDEF', url: 'https://events.pagerduty.com' },
      opsgenie: { apiKey: '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0', url: 'https://api.eu.opsgenie.com' },
    });
    expect(load({ PAGERDUTY_ROUTING_KEY: '' }).pager).toEqual({});
    expect(() => load({ PAGERDUTY_ROUTING_KEY: 'https://events.pagerduty.com/x' })).toThrow(
      /PAGERDUTY_ROUTING_KEY: must be the 32-character Integration Key of a PagerDuty "Events API V2" integration/,
    );
  });
});
