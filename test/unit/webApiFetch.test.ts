import { createServer, type IncomingMessage, type Server } from 'node:http';
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webApiFetch } from '../../src/slack/webApiFetch.js';

/** A local Web API: answers by path, and remembers what it was sent. */
let server: Server;
let base: string;
const received: Array<{ path: string; headers: IncomingMessage['headers']; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url?.endsWith('/chat.postMessage')) {
        res.writeHead(200, { 'content-type': 'application/json', 'x-slack-req-id': 'abc' });
        res.end(
          JSON.stringify({ ok: true, ts: '1700000000.000100', echo: new URLSearchParams(body).get('text') }),
        );
      } else if (req.url?.endsWith('/conversations.info')) {
        res.writeHead(429, { 'retry-after': '7', 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'ratelimited' }));
      } else if (req.url?.endsWith('/slow')) {
        setTimeout(() => res.end('late'), 2000);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'channel_not_found' }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/api/`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('webApiFetch (the Web API client over node:http)', () => {
  const client = () =>
    new WebClient('xoxb-test', { slackApiUrl: base, fetch: webApiFetch, rejectRateLimitedCalls: true });

  it('posts form-encoded calls with their length and reads the answer, text in UTF-8 included', async () => {
    const result = await client().chat.postMessage({ channel: 'C1', text: 'Grüße 🚨' });
    expect(result).toMatchObject({ ok: true, ts: '1700000000.000100', echo: 'Grüße 🚨' });
    const sent = received.at(-1)!;
    expect(sent.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(sent.headers.authorization).toBe('Bearer xoxb-test');
    expect(Number(sent.headers['content-length'])).toBe(Buffer.byteLength(sent.body));
  });

  it("hands the client Slack's errors and rate limits as fetch would", async () => {
    await expect(client().conversations.info({ channel: 'C1' })).rejects.toMatchObject({
      code: 'slack_webapi_rate_limited_error',
      retryAfter: 7,
    });
    await expect(client().conversations.members({ channel: 'C404' })).rejects.toMatchObject({
      code: 'slack_webapi_platform_error',
      data: { error: 'channel_not_found' },
    });
  });

  it('gives status, headers and body like a fetch Response, and stops on abort', async () => {
    const response = await webApiFetch(`${base}chat.postMessage`, { method: 'POST', body: 'text=hi' });
    expect([response.ok, response.status, response.statusText]).toEqual([true, 200, 'OK']);
    expect(response.headers.get('X-Slack-Req-Id')).toBe('abc');
    expect(Object.fromEntries(response.headers.entries())).toMatchObject({ 'x-slack-req-id': 'abc' });
    expect(await response.json()).toMatchObject({ ok: true, echo: 'hi' });
    await expect(
      webApiFetch(`${base}slow`, { method: 'POST', body: '', signal: AbortSignal.timeout(100) }),
    ).rejects.toThrow(/abort/i);
  });

  it('leaves bodies that are not text (file uploads) to fetch', async () => {
    const form = new FormData();
    form.append('file', new Blob(['a,b\n1,2\n']), 'rows.csv');
    const response = await webApiFetch(`${base}upload`, { method: 'POST', body: form });
    expect(response.status).toBe(200);
    expect(received.at(-1)!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
  });
});
