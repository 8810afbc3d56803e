import { describe, expect, it } from 'vitest';
import {
  checkpointSignedWith,
  formatCheckpoint,
  makeCheckpoint,
  parseCheckpoint,
} from '../../src/audit/checkpoint.js';
import { loadAuditSettings } from '../../src/config.js';
import { ConfigError, UserError } from '../../src/errors.js';

const KEY = 'a-test-audit-hmac-key-0123456789abcdef';
const HEAD = { count: 42, head: 'ab'.repeat(32), keyedFrom: 7, at: '2026-12-07T03:00:00.000Z' };

describe('audit settings', () => {
  it('reads AUDIT_HMAC_KEY and AUDIT_CHANNEL, an empty value as unset', () => {
    expect(loadAuditSettings({ AUDIT_HMAC_KEY: KEY, AUDIT_CHANNEL: 'C0AUDIT' })).toEqual({
      hmacKey: KEY,
      checkpointChannel: 'C0AUDIT',
    });
    expect(loadAuditSettings({ AUDIT_HMAC_KEY: '', AUDIT_CHANNEL: '' })).toEqual({
      hmacKey: undefined,
      checkpointChannel: undefined,
    });
  });

  it('refuses a short key and a channel name, saying what to use', () => {
    expect(() => loadAuditSettings({ AUDIT_HMAC_KEY: 'short' })).toThrow(ConfigError);
    expect(() => loadAuditSettings({ AUDIT_HMAC_KEY: 'short' })).toThrow(
      /AUDIT_HMAC_KEY.*at least 32 characters.*openssl rand -hex 32/s,
    );
    expect(() => loadAuditSettings({ AUDIT_CHANNEL: '#audit' })).toThrow(/AUDIT_CHANNEL.*channel id/s);
  });
});

describe('audit checkpoints', () => {
  it('round-trips a signed line, also from the message it was posted in', () => {
    const line = formatCheckpoint(makeCheckpoint(HEAD, KEY));
    expect(line).toMatch(
      /^audit-checkpoint v1 count=42 head=(ab){32} keyed-from=7 at=2026-12-07T03:00:00.000Z mac=[0-9a-f]{64}$/,
    );
    const parsed = parseCheckpoint(`:lock: Audit log checkpoint.\n\`${line}\``);
    expect(parsed).toEqual({ ...HEAD, mac: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(checkpointSignedWith(parsed, KEY)).toBe(true);
    expect(checkpointSignedWith(parsed, `${KEY}x`)).toBe(false);
    expect(checkpointSignedWith({ ...parsed, count: 43 }, KEY)).toBe(false);
  });

  it('writes mac=none and keyed-from=none without a key', () => {
    const line = formatCheckpoint(makeCheckpoint({ ...HEAD, keyedFrom: null }, undefined));
    expect(line).toMatch(/keyed-from=none at=\S+ mac=none$/);
    expect(parseCheckpoint(line)).toMatchObject({ keyedFrom: null, mac: null });
  });

  it('names what is wrong with a line that is not a checkpoint', () => {
    expect(() => parseCheckpoint('count=1')).toThrow(UserError);
    expect(() => parseCheckpoint('count=1')).toThrow(/must be a checkpoint line as the bot posted it/);
    expect(() =>
      parseCheckpoint('audit-checkpoint v1 count=1 head=xyz keyed-from=a at=never mac=none'),
    ).toThrow(
      /head must be 64 hex digits; keyed-from must be a seq or none, got "a"; at must be an ISO time, got "never"/,
    );
  });
});
