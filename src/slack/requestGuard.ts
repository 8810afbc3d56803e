import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type App,
  HTTPModuleFunctions,
  type HTTPReceiver,
  isRawBodyError,
  type ReceiverEvent,
} from '@slack/bolt';
import type { Logger } from '../logger.js';
import { checkInboundBody, type Listened, parseInboundBody } from './inboundBody.js';
import { signatureMatches } from './signature.js';

/** Slack's replay window, both ways: Bolt refuses only old timestamps, not future ones. */
const MAX_CLOCK_SKEW_S = 5 * 60;

export interface GuardOptions {
  signingSecret: string;
  /** The path Slack posts to (`/slack/events`). */
  endpoint: string;
  /** The commands and modals the app listens for. */
  listened: Listened;
  logger: Logger;
}

interface Refusal {
  status: number;
  reason: string;
}

/**
 * Puts a check in front of Bolt's HTTP receiver, on its endpoint only: the signature and
 * the timestamp (within five minutes either way) first, so an unsigned body of any shape is
 * a 401; then the body, parsed as Bolt will parse it and checked (inboundBody.ts), so a
 * signed body Bolt would crash on, answer 500 to, or leave unacknowledged is a 400 with the
 * reason, at once. A request that passes goes on to Bolt with its body already read (Bolt
 * reuses it). The receiver is built with Bolt's own signature check off (app.ts): every
 * request Bolt takes as an event (a POST to the endpoint, matched as Bolt matches it) has
 * been verified here, and a second check would cost the bot CPU on every acknowledgement.
 * Slack's certificate check, which is unsigned, is answered here (an empty 200, as Bolt
 * would) and never reaches Bolt, so Bolt sees no unsigned request at all.
 */
export function guardHttpReceiver(receiver: HTTPReceiver, options: GuardOptions): void {
  const next = receiver.requestListener;
  receiver.requestListener = (req, res) => {
    if (req.method?.toUpperCase() !== 'POST' || pathOf(req.url) !== options.endpoint) return next(req, res);
    // Nothing here may reject unhandled: that would end the process, as payload=null did.
    screen(req, options)
      .then((refusal) => {
        if (!refusal) return next(req, res);
        if (refusal === SSL_CHECK) {
          res.writeHead(200);
          res.end();
          return;
        }
        options.logger.warn(
          { status: refusal.status, reason: refusal.reason },
          'refused a request to the Slack endpoint',
        );
        answer(res, refusal.status, refusal.reason);
      })
      .catch((err: unknown) => {
        options.logger.error({ err }, 'a request to the Slack endpoint could not be handled');
        answer(res, 500, 'the request could not be handled');
      });
  };
}

/**
 * The same body check for deliveries that do not come over HTTP (Socket Mode): a body the
 * bot cannot handle is logged and acknowledged, so Slack does not deliver it again, and Bolt
 * never sees it.
 */
export function guardEvents(app: App, listened: Listened, logger: Logger): void {
  const handle = app.processEvent.bind(app);
  app.processEvent = async (event: ReceiverEvent) => {
    const check = checkInboundBody(event.body, listened);
    if (check.ok) return handle(event);
    logger.warn({ reason: check.reason }, 'refused a Slack delivery');
    await event.ack();
  };
}

/** Slack's certificate check: answered 200, nothing else done. */
const SSL_CHECK = Symbol('ssl_check');

async function screen(
  req: IncomingMessage,
  options: GuardOptions,
): Promise<Refusal | typeof SSL_CHECK | undefined> {
  let raw: string;
  try {
    raw = (
      await HTTPModuleFunctions.bufferIncomingMessage(req, HTTPModuleFunctions.defaultBodyLimit)
    ).rawBody.toString();
  } catch (err) {
    if (isRawBodyError(err) && err.statusCode === 413)
      return { status: 413, reason: `the body is over ${HTTPModuleFunctions.defaultBodyLimit} bytes` };
    return { status: 400, reason: 'the body could not be read' };
  }
  const contentType = req.headers['content-type'];
  // Slack's certificate check is unsigned; it is answered, and anything sent with it dropped.
  if (
    contentType === 'application/x-www-form-urlencoded' &&
    new URLSearchParams(raw).get('ssl_check') === '1'
  )
    return SSL_CHECK;
  const timestamp = header(req, 'x-slack-request-timestamp');
  const signature = header(req, 'x-slack-signature');
  if (!timestamp || !/^\d{1,12}$/.test(timestamp) || !signature)
    return {
      status: 401,
      reason: 'the request is not signed (X-Slack-Request-Timestamp, X-Slack-Signature)',
    };
  const now = Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > MAX_CLOCK_SKEW_S)
    return {
      status: 401,
      reason: 'the request timestamp is more than 5 minutes from now (a replay, or a clock that is off)',
    };
  if (!signatureMatches(options.signingSecret, timestamp, raw, signature))
    return { status: 401, reason: 'the signature does not match' };
  const check = parseInboundBody(raw, contentType, options.listened);
  return check.ok ? undefined : { status: 400, reason: check.reason };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

function answer(res: ServerResponse, status: number, reason: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${reason}\n`);
}
