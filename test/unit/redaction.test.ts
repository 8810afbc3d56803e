import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { describeUrl, redactText } from '../../src/redact.js';
import { describeConnectionFailure } from '../../src/targets/connectionErrors.js';

describe('redaction', () => {
  it('removes passwords from URLs and keyword connection strings, and Slack tokens', () => {
    expect(redactText('connect postgres://app:hunter2@db:5432/x failed')).toBe(
      'connect postgres://app:***@db:5432/x failed',
    );
    expect(redactText("host=db password='a b' user=x")).toBe('host=db password=*** user=x');
    expect(redactText('token xoxb-123-456-abc')).toBe('token ***');
    expect(redactText('postgres://u:p@ss@db:5432/x')).toBe('postgres://u:***@db:5432/x');
    expect(redactText("ALTER ROLE app PASSWORD 'it''s secret' VALID UNTIL 'infinity'")).toBe(
      "ALTER ROLE app PASSWORD '***' VALID UNTIL 'infinity'",
    );
    expect(redactText("CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'a', password 'b')")).toContain(
      "password '***'",
    );
    expect(describeUrl('postgresql://app:hunter2@db.internal:6543/postgres?sslmode=require')).toBe(
      'postgresql://app@db.internal:6543/postgres',
    );
  });

  it('keeps secrets out of every log line: message, merged object and error', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: 'info', destination });
    const url = 'postgres://ops:topsecret@db:5432/app';
    logger.info(
      { databaseUrl: url, nested: { password: 'topsecret', note: `see ${url}` } },
      `connecting to ${url}`,
    );
    logger.error({ err: new Error(`could not connect to ${url}`) }, 'failed');
    logger.info({ token: 'xoxb-1-2-topsecret', signingSecret: 'topsecret' }, 'slack');
    const output = lines.join('');
    expect(output).not.toContain('topsecret');
    expect(output).toContain('postgres://ops@db:5432/app');
    expect(lines).toHaveLength(3);
  });

  it('explains connection failures without the password', () => {
    const url = 'postgres://app:hunter2@db.internal:6543/app';
    expect(
      describeConnectionFailure(
        { code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND db.internal' },
        url,
        5000,
      ),
    ).toBe('host db.internal:6543 not found (check the hostname in the URL)');
    expect(describeConnectionFailure(new Error('timeout expired'), url, 5000)).toBe(
      'no answer from db.internal:6543 within 5 s',
    );
    expect(
      describeConnectionFailure(
        { code: '28P01', message: `password authentication failed for user "app"` },
        url,
        5000,
      ),
    ).not.toContain('hunter2');
  });
});
