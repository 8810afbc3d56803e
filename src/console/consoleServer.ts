import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { errorText } from '../redact.js';
import { BotDelivery } from './botDelivery.js';
import type { ActionRequest, CloseRequest, ConsoleReply, SendRequest, SubmitRequest } from './protocol.js';
import { requestPath } from './requestPath.js';
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
  /** Shown to every user beside the channels (ConsoleState.note). */
  note?: string;
}

export interface RunningConsole {
  /** The page, e.g. http://127.0.0.1:3100 */
  url: string;
  /** For SLACK_API_URL: the Web API base, ending in a slash. */
  apiUrl: string;
  workspace: Workspace;
  /** The bot's Socket Mode connections, when an app token was given. */
  socket?: SocketModeHub;
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
  const socket = options.appToken ? new SocketModeHub(workspace.bot.appId, server) : undefined;
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
        const args = await apiArgs(req).catch(() => undefined);
        // Slack answers a body it cannot read with HTTP 200 and an error, as any other.
        if (!args) return sendJson(res, 200, { ok: false, error: 'invalid_json' });
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
        const answer = responses.respond(match[1]!, await readJson(req));
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
        const note = options.note ? { note: options.note } : {};
        sendJson(res, 200, { ...workspace.snapshot(user, botUrl), ...note });
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
      consoleAction(CONSOLE_REQUESTS.send, (body) =>
        delivery.send(body.user, body.channel, body.text, body.threadTs),
      ),
    ],
    [/^POST \/console\/action$/, consoleAction(CONSOLE_REQUESTS.action, (body) => delivery.click(body))],
    [
      /^POST \/console\/submit$/,
      async (_match, req, res) => {
        const body = await readConsoleRequest(req, CONSOLE_REQUESTS.submit);
        await answerConsole(res, async () => {
          const errors = await delivery.submit(body.user, body.viewId, body.values);
          return errors ? { ok: true, errors } : { ok: true };
        });
      },
    ],
    [
      /^POST \/console\/close$/,
      consoleAction(CONSOLE_REQUESTS.close, async (body) => {
        const view = workspace.view(body.viewId);
        if (view.user !== body.user) throw new SlackApiError('not_found');
        workspace.closeView(body.viewId);
      }),
    ],
    [/^GET \/([\w.-]*)$/, async (match, _req, res) => servePublic(res, match[1] || 'index.html')],
  ];

  function route(req: IncomingMessage, res: ServerResponse): void {
    const path = requestPath(req);
    if (path === undefined) {
      sendText(res, 400, 'bad request URL');
      return;
    }
    const key = `${req.method} ${path}`;
    for (const [pattern, handle] of routes) {
      const match = key.match(pattern);
      if (!match) continue;
      handle(match, req, res).catch((err: unknown) => {
        // A request the console cannot read is the sender's to fix; anything else is a bug
        // of the console's, said where someone running it will see it.
        const bad = err instanceof BadRequest || err instanceof SlackApiError;
        if (!bad) process.stderr.write(`console: ${key} failed: ${(err as Error)?.stack ?? String(err)}\n`);
        if (!res.headersSent) sendJson(res, bad ? 400 : 500, { ok: false, error: errorText(err) });
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
    socket,
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

function consoleAction<S extends z.ZodType>(schema: S, act: (body: z.output<S>) => Promise<void>) {
  return async (_match: RegExpMatchArray, req: IncomingMessage, res: ServerResponse) => {
    const body = await readConsoleRequest(req, schema);
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
    sendJson(res, 200, { ok: false, error: errorText(err) } satisfies ConsoleReply);
  }
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

/** A request the console cannot read: answered 400 with the reason. */
class BadRequest extends Error {}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The body as a JSON object (empty: {}); anything else is refused with the reason. */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return jsonObject((await readBody(req)).toString('utf8'));
}

function jsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text || '{}');
  } catch {
    throw new BadRequest('the request body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new BadRequest('the request body must be a JSON object');
  return value as Record<string, unknown>;
}

const id = z.string().min(1);
/** What each of the page's requests must hold; a request that does not is refused, saying why. */
const CONSOLE_REQUESTS = {
  send: z.object({
    user: id,
    channel: id,
    text: z.string().default(''),
    threadTs: id.optional(),
  }) satisfies z.ZodType<SendRequest>,
  action: z.object({
    user: id,
    channel: id,
    messageTs: id,
    ephemeral: z.boolean().optional(),
    blockId: id,
    actionId: id,
  }) satisfies z.ZodType<ActionRequest>,
  submit: z.object({
    user: id,
    viewId: id,
    values: z.record(z.string(), z.record(z.string(), z.string())).default({}),
  }) satisfies z.ZodType<SubmitRequest>,
  close: z.object({ user: id, viewId: id }) satisfies z.ZodType<CloseRequest>,
};

/** A request of the page's: a JSON object naming the person acting, with what it needs. */
async function readConsoleRequest<S extends z.ZodType>(
  req: IncomingMessage,
  schema: S,
): Promise<z.output<S>> {
  const body = await readJson(req);
  if (typeof body.user !== 'string' || !body.user) throw new BadRequest('the request names no user');
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new BadRequest(`the request is not one the console takes: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** Web API arguments arrive form-encoded (the SDK's default) or as a JSON object. */
async function apiArgs(req: IncomingMessage): Promise<ApiArgs> {
  const body = (await readBody(req)).toString('utf8');
  if ((req.headers['content-type'] ?? '').startsWith('application/json')) return jsonObject(body) as ApiArgs;
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
