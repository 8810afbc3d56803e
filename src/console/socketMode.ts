import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { requestPath } from './requestPath.js';

/** Slack pings its Socket Mode clients; a client that hears nothing for 30 s reconnects. */
const PING_INTERVAL_MS = 10_000;
/** Slack waits this long for a bot's acknowledgement, over HTTP and Socket Mode alike. */
export const ACK_TIMEOUT_MS = 3000;

export type EnvelopeType = 'slash_commands' | 'interactive';

interface PendingAck {
  resolve: (payload: unknown) => void;
  timer: NodeJS.Timeout;
}

/**
 * Socket Mode as Slack runs it: apps.connections.open hands out a one-time URL, the app
 * connects, gets `hello`, and from then on receives envelopes and acknowledges each by its
 * envelope_id (with the response payload, for a slash command). Pinged every ten seconds.
 */
export class SocketModeHub {
  private readonly server = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly sockets = new Set<WebSocket>();
  private readonly pending = new Map<string, PendingAck>();
  private readonly pinger: NodeJS.Timeout;

  constructor(
    private readonly appId: string,
    httpServer: Server,
  ) {
    httpServer.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.pinger = setInterval(() => {
      for (const socket of this.sockets) socket.ping();
    }, PING_INTERVAL_MS);
  }

  /** A URL for one connection (what apps.connections.open answers). */
  issue(baseUrl: string): string {
    const ticket = randomBytes(12).toString('hex');
    this.tickets.add(ticket);
    return `${baseUrl.replace(/^http/, 'ws')}/socket/${ticket}`;
  }

  connected(): boolean {
    return this.sockets.size > 0;
  }

  /**
   * Sends an envelope to one connected app and waits for its ack: the ack's payload, or
   * undefined when none came within three seconds.
   */
  deliver(type: EnvelopeType, payload: unknown): Promise<unknown | undefined> {
    const [socket] = this.sockets;
    if (!socket) return Promise.resolve(undefined);
    const envelopeId = randomBytes(12).toString('hex');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(envelopeId);
        resolve(undefined);
      }, ACK_TIMEOUT_MS);
      this.pending.set(envelopeId, { resolve, timer });
      socket.send(
        JSON.stringify({
          envelope_id: envelopeId,
          type,
          payload,
          accepts_response_payload: type === 'slash_commands',
          retry_attempt: 0,
          retry_reason: '',
        }),
      );
    });
  }

  close(): void {
    clearInterval(this.pinger);
    for (const socket of this.sockets) socket.terminate();
    this.server.close();
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const ticket = /^\/socket\/(\w+)$/.exec(requestPath(req) ?? '')?.[1];
    // Each URL opens one connection, as Slack's do.
    if (!ticket || !this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    this.server.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('error', () => this.sockets.delete(ws));
    ws.on('message', (data) => {
      let message: { envelope_id?: string; payload?: unknown };
      try {
        message = JSON.parse(String(data));
      } catch {
        return;
      }
      const waiting = message.envelope_id ? this.pending.get(message.envelope_id) : undefined;
      if (!waiting || !message.envelope_id) return;
      clearTimeout(waiting.timer);
      this.pending.delete(message.envelope_id);
      waiting.resolve(message.payload ?? {});
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: this.sockets.size,
        debug_info: { host: 'runbook-bot-console' },
        connection_info: { app_id: this.appId },
      }),
    );
  }
}
