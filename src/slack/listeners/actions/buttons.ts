import type { AllMiddlewareArgs, App, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { KnownBlock, View } from '@slack/types';
import type { z } from 'zod';
import { type Answer, answerText } from '../../../answer.js';
import { slashCommand } from '../../../commands/runbookCommand.js';
import { queuedWithoutWorkerText, type WorkerPresence } from '../../../service/workerPresence.js';
import { refuse, safeJson, UNAVAILABLE } from '../access.js';
import type { ListenerDeps } from '../deps.js';

/** What the person who clicked sees: words, the message replaced, a modal, or nothing more. */
export type ButtonReply =
  | { text: string; replaceWith?: undefined; view?: undefined }
  | { text: string; replaceWith: KnownBlock[]; view?: undefined }
  | { view: View; text?: undefined; replaceWith?: undefined }
  | undefined;

export interface Click<T> {
  value: T;
  user: string;
  channel: string;
  /** Slack's id for this click: a retried delivery carries the same one. */
  clickId: string;
  /** The message the button is on. */
  messageTs?: string;
}

export interface ButtonSpec<T> {
  /** The button's value, read and checked; undefined when damaged or forged. */
  read: (raw: string | undefined) => T | undefined;
  act: (click: Click<T>) => Promise<ButtonReply>;
  /** Records a click the access policy refused (approval buttons: every refusal is audited). */
  refused?: (click: { value: T; user: string; reason: string }) => Promise<void>;
}

export const OUT_OF_DATE = 'That button is out of date or damaged; run the command again for a fresh one.';

type BoltButton = (args: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs) => Promise<void>;

/**
 * Every button of the bot, by action id, behind one Bolt listener: Bolt runs every event
 * through every listener's middleware chain, and one dispatch keeps clicks cheap on the ack
 * path (bench/ack.ts). Feature files add their buttons with {@link Buttons.on}.
 */
export class Buttons {
  private readonly handlers = new Map<string, BoltButton>();
  // Not one of ours (a button of a message this version no longer makes): it has no value the
  // bot can read, so it is answered as out of date like a damaged one.
  private readonly unknown: BoltButton;

  constructor(private readonly deps: ListenerDeps) {
    this.unknown = this.handler({ read: () => undefined, act: async () => undefined });
  }

  /** The button `actionId`: its value is read first (and typed by the reader), then acted on. */
  on<T>(actionId: string, read: ButtonSpec<T>['read'], handling: Omit<ButtonSpec<T>, 'read'>): void {
    if (this.handlers.has(actionId)) throw new Error(`two handlers for the button ${actionId}`);
    this.handlers.set(actionId, this.handler({ read, ...handling }));
  }

  listen(app: App): void {
    app.action({ type: 'block_actions' }, (args) =>
      (this.handlers.get(args.action.action_id) ?? this.unknown)(args),
    );
  }

  /**
   * One way for every button: acknowledge, read the value, apply the access policy, act, and
   * answer the person who clicked. A malformed value, a failure of the state database or the
   * queue, and a failed answer (an expired trigger, say) are all answered or at least logged,
   * never left as a silent click.
   */
  private handler<T>({ read, act, refused }: ButtonSpec<T>): BoltButton {
    const { deps } = this;
    return async ({ ack, body, action, respond, client }) => {
      await ack();
      const actionId = action.action_id;
      const value = read('value' in action ? action.value : undefined);
      const channel = 'channel' in body ? body.channel?.id : undefined;
      const messageTs = 'message' in body ? body.message?.ts : undefined;
      let reply: ButtonReply;
      if (value === undefined || !channel) {
        deps.logger.warn({ actionId }, 'a button arrived without a usable value or channel');
        reply = { text: OUT_OF_DATE };
      } else {
        try {
          const refusal = refuse(deps.access, body.user.id, channel);
          if (refusal)
            await refused?.({ value, user: body.user.id, reason: refusal }).catch((err: unknown) =>
              deps.logger.warn({ err, actionId }, 'a refused click could not be audited'),
            );
          reply = refusal
            ? { text: refusal }
            : await act({ value, user: body.user.id, channel, clickId: clickId(action), messageTs });
        } catch (err) {
          deps.logger.error({ err, actionId }, 'a button could not be handled');
          reply = { text: UNAVAILABLE };
        }
      }
      if (!reply) return;
      try {
        if (reply.view) {
          if ('trigger_id' in body)
            await client.views.open({ trigger_id: body.trigger_id, view: reply.view });
        } else if (reply.replaceWith)
          await respond({ replace_original: true, blocks: reply.replaceWith, text: reply.text });
        else await respond({ response_type: 'ephemeral', replace_original: false, text: reply.text });
      } catch (err) {
        deps.logger.warn({ err, actionId }, 'could not answer a button');
        if (reply.view)
          await respond({
            response_type: 'ephemeral',
            replace_original: false,
            text: 'The form could not be opened in time; press the button again.',
          }).catch(() => undefined);
      }
    };
  }
}

/** Slack's id for one click: a retried delivery carries the same one. */
function clickId(action: object): string {
  return 'action_ts' in action && typeof action.action_ts === 'string'
    ? action.action_ts
    : String(Date.now());
}

/** A button value that is JSON checked against a schema. */
export function jsonValue<S extends z.ZodType>(schema: S) {
  return (raw: string | undefined): z.output<S> | undefined => {
    const parsed = schema.safeParse(safeJson(raw));
    return parsed.success ? parsed.data : undefined;
  };
}

/** A button value used as it is (an id), checked against a schema. */
export function plainValue<S extends z.ZodType>(schema: S) {
  return (raw: string | undefined): z.output<S> | undefined => {
    const parsed = schema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  };
}

/** A use case's words for the person who clicked (an approval that only counts says so too). */
export function answerReply(answer: Answer): ButtonReply {
  const text = answerText(answer, slashCommand);
  return text ? { text } : undefined;
}

/**
 * A decision that went through is carried out by workers (the card, the execution): with none
 * alive the click would change the database and nothing on screen, so the person is told.
 */
export async function withWorkerStatus(
  answer: Answer,
  workers: WorkerPresence | undefined,
  what: string,
): Promise<ButtonReply> {
  const down = answer.ok ? await workers?.down() : undefined;
  if (!down) return answerReply(answer);
  const text = answerText(answer, slashCommand);
  return { text: `${text ? `${text} ` : ''}${queuedWithoutWorkerText(what, down)}` };
}
