import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BotDelivery } from './botDelivery.js';
import type { ActionRequest, CloseRequest, ConsoleReply, SendRequest, SubmitRequest } from './protocol.js';
import { ResponseUrls } from './responseUrls.js';
import { SocketModeHub } from './socketMode.js';
import { TriggerIds } from './triggerIds.js';
import { type ApiArgs, WebApi } from './webApi.js';
import { SlackApiError, seedWorkspace, Workspace } from './workspace.js';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const MAX_BODY_BYTES = 20 * 1024 * 1024;
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface ConsoleOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  botToken: string;
  signingSecret: string;
  /** The bot's request URL; can be set later with `setBotUrl` (the bot needs our URL first). */
  botUrl?: string;
  /** Slash commands the app registered (manifest.yml). */
  commands?: string[];
  /** An app-level token (xapp-…) for a bot in Socket Mode; without it only HTTP delivery. */
  appToken?: string;
}

export interface RunningConsole {
  /** The page, e.g. http://127.0.0.1:3100 */
  url: string;
  /** For SLACK_API_URL: the Web API base, ending in a slash. */
  apiUrl: string;
  workspace: Workspace;
  setBotUrl(url: string): void;
  close(): Promise<void>;
}

/**
 * The local Slack console: Slack's Web API for the bot (`/api/<method>`), response_urls and
 * uploads, and a web page (with /console/* JSON and an event stream) for the people.
 */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const workspace = seedWorkspace(new Workspace());
  const triggers = new TriggerIds();
  let baseUrl = '';
  let botUrl = options.botUrl ?? '';
  const responses = new ResponseUrls(workspace, () => baseUrl);
  const server = createServer((req, res) => route(req, res));
  const socket = options.appToken ? new SocketModeHub('A0RUNBOOKBOT', server) : undefined;
  const api = new WebApi({
    workspace,
    triggers,
    botToken: options.botToken,
    baseUrl: () => baseUrl,
    socketMode:
      socket && options.appToken
        ? { appToken: options.appToken, openUrl: () => socket.issue(baseUrl) }
        : undefined,
  });
  const delivery = new BotDelivery({
    socket,
    workspace,
    triggers,
    responses,
    signingSecret: options.signingSecret,
    botUrl: () => botUrl,
    commands: options.commands ?? ['/runbook', '/incident'],
  });
  const streams = new Set<ServerResponse>();
  workspace.on('change', (version) => {
    for (const stream of streams) stream.write(`data: ${version}\n\n`);
  });

  const routes: Array<
    [RegExp, (match: RegExpMatchArray, req: IncomingMessage, res: ServerResponse) => Promise<void>]
  > = [
    [
      /^POST \/api\/([\w.]+)$/,
      async (match, req, res) => {
        const args = await apiArgs(req);
        const token =
          req.headers.authorization?.replace(/^Bearer /, '') ?? (args.token as string | undefined);
        sendJson(res, 200, api.call(match[1]!, args, token));
      },
    ],
    [
      /^POST \/upload\/(\w+)$/,
      async (match, req, res) => {
        const file = workspace.files.get(match[1]!);
        if (!file) return sendText(res, 404, 'file_not_found');
        file.content = await uploadedBytes(req);
        sendText(res, 200, `OK - ${file.content.length}`);
      },
    ],
    [
      /^POST \/response\/(\w+)$/,
      async (match, req, res) => {
        const payload = JSON.parse((await readBody(req)).toString('utf8') || '{}');
        const answer = responses.respond(match[1]!, payload);
        sendText(res, answer.status, answer.body);
      },
    ],
    [
      /^GET \/files\/(\w+)\/[^/]*$/,
      async (match, _req, res) => {
        const file = workspace.files.get(match[1]!);
        if (!file?.content) return sendText(res, 404, 'file_not_found');
        res.writeHead(200, {
          'content-type': 'text/plain; charset=utf-8',
          'content-disposition': `inline; filename="${file.name.replace(/"/g, '')}"`,
        });
        res.end(file.content);
      },
    ],
    [
      /^GET \/console\/state$/,
      async (_match, req, res) => {
        const user = new URL(req.url ?? '/', 'http://console').searchParams.get('user') ?? '';
        sendJson(res, 200, workspace.snapshot(user, botUrl));
      },
    ],
    [
      /^GET \/console\/events$/,
      async (_match, req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(`data: ${workspace.version}\n\n`);
        streams.add(res);
        req.on('close', () => streams.delete(res));
      },
    ],
    [
      /^POST \/console\/send$/,
      consoleAction<SendRequest>((body) =>
        delivery.send(body.user, body.channel, body.text ?? '', body.threadTs),
      ),
    ],
    [/^POST \/console\/action$/, consoleAction<ActionRequest>((body) => delivery.click(body))],
    [
      /^POST \/console\/submit$/,
      async (_match, req, res) => {
        const body = (await readJson(req)) as SubmitRequest;
        await answerConsole(res, async () => {
          const errors = await delivery.submit(body.user, body.viewId, body.values ?? {});
          return errors ? { ok: true, errors } : { ok: true };
        });
      },
    ],
    [
      /^POST \/console\/close$/,
      consoleAction<CloseRequest>(async (body) => {
        const view = workspace.view(body.viewId);
        if (view.user !== body.user) throw new SlackApiError('not_found');
        workspace.closeView(body.viewId);
      }),
    ],
    [/^GET \/([\w.-]*)$/, async (match, _req, res) => servePublic(res, match[1] || 'index.html')],
  ];

  function route(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://console').pathname;
    const key = `${req.method} ${path}`;
    for (const [pattern, handle] of routes) {
      const match = key.match(pattern);
      if (!match) continue;
      handle(match, req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 400, { ok: false, error: describe(err) });
        else res.end();
      });
      return;
    }
    sendText(res, 404, 'not found');
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://${options.host ?? '127.0.0.1'}:${port}`;
  return {
    url: baseUrl,
    apiUrl: `${baseUrl}/api/`,
    workspace,
    setBotUrl: (url) => {
      botUrl = url;
    },
    close: async () => {
      socket?.close();
      for (const stream of streams) stream.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}

function consoleAction<T>(act: (body: T) => Promise<void>) {
  return async (_match: RegExpMatchArray, req: IncomingMessage, res: ServerResponse) => {
    const body = (await readJson(req)) as T;
    await answerConsole(res, async () => {
      await act(body);
      return { ok: true };
    });
  };
}

/** The page's requests always get JSON; a refusal is a sentence, not a stack trace. */
async function answerConsole(res: ServerResponse, act: () => Promise<ConsoleReply>): Promise<void> {
  try {
    sendJson(res, 200, await act());
  } catch (err) {
    if (!(err instanceof SlackApiError)) throw err;
    sendJson(res, 200, { ok: false, error: describe(err) } satisfies ConsoleReply);
  }
}

function describe(err: unknown): string {
  if (err instanceof SlackApiError) return [err.code, ...err.messages].join(': ');
  return err instanceof Error ? err.message : String(err);
}

async function servePublic(res: ServerResponse, name: string): Promise<void> {
  const type = CONTENT_TYPES[extname(name)];
  if (!type) return sendText(res, 404, 'not found');
  try {
    const content = await readFile(join(PUBLIC_DIR, name));
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' });
    res.end(content);
  } catch {
    sendText(res, 404, 'not found');
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = (await readBody(req)).toString('utf8');
  try {
    return JSON.parse(text || '{}');
  } catch {
    throw new Error('the request body is not JSON');
  }
}

/** Web API arguments arrive form-encoded (the SDK's default) or as JSON. */
async function apiArgs(req: IncomingMessage): Promise<ApiArgs> {
  const body = (await readBody(req)).toString('utf8');
  if ((req.headers['content-type'] ?? '').startsWith('application/json')) return body ? JSON.parse(body) : {};
  return Object.fromEntries(new URLSearchParams(body));
}

/** Upload URLs take the bytes raw or as multipart form data (what the SDK sends). */
async function uploadedBytes(req: IncomingMessage): Promise<Buffer> {
  const body = await readBody(req);
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('multipart/form-data')) return body;
  const form = await new Response(body, { headers: { 'content-type': type } }).formData();
  for (const value of form.values()) {
    if (typeof value !== 'string') return Buffer.from(await value.arrayBuffer());
  }
  throw new Error('the upload holds no file');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}
