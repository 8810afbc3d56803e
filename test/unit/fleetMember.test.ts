import { describe, expect, it } from 'vitest';
import { asFleetMember } from '../../src/health/fleet.js';
import { DEFAULT_TARGET_SETTINGS, type Target } from '../../src/targets/target.js';

describe('a target in a fleet run', () => {
  it('is checked on one connection, whatever its pool_max, and the configured target is left as it is', () => {
    const target: Target = {
      name: 'shop',
      url: 'postgres://app@db.example.com/shop',
      tags: ['production'],
      settings: { ...DEFAULT_TARGET_SETTINGS, poolMax: 4, statementTimeoutMs: 1234 },
      thresholdOverrides: { 'connections.warn': '50' },
      source: 'targets.yml',
    };
    const member = asFleetMember(target);
    expect(member.settings.poolMax).toBe(1);
    expect(member).toEqual({ ...target, settings: { ...target.settings, poolMax: 1 } });
    expect(target.settings.poolMax).toBe(4);
  });
});
