import {
  type AllMiddlewareArgs,
  App,
  type BlockAction,
  HTTPReceiver,
  type RespondFn,
  type SlackActionMiddlewareArgs,
} from '@slack/bolt';
import type { KnownBlock, View } from '@slack/types';
import { z } from 'zod';
import { type Answer, answerText } from '../answer.js';
import type { ApprovalService } from '../approvals/approvalService.js';
import type { AuditLog } from '../audit/auditLog.js';
import { parseRunbookCommand, RUNBOOK_USAGE } from '../commands/runbookCommand.js';
import { UserError } from '../errors.js';
import { HealthRunStarter } from '../health/healthRunStarter.js';
import type { OpsRoute } from '../http/opsRoutes.js';
import type { IncidentService } from '../incidents/incidentService.js';
import { JOBS } from '../jobs/catalog.js';
import type { QueueBackend } from '../jobs/queueBackend.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { errorText } from '../redact.js';
import type { RunbookLibrary } from '../runbooks/runbookLibrary.js';
import { queuedWithoutWorkerText, type WorkerPresence } from '../service/workerPresence.js';
import type { IncidentStore } from '../store/incidents.js';
import type { ProcedureRunStore } from '../store/procedureRuns.js';
import type { RunStore } from '../store/runs.js';
import type { TargetRegistry } from '../targets/registry.js';
import { ACTIONS } from './actionIds.js';
import { answerIncidentCommand, declareButtonSchema } from './incidentCommands.js';
import { guardEvents, guardHttpReceiver } from './requestGuard.js';
import { answerRunbookCommand } from './runbookCommands.js';
import { slackLogger } from './slackLogger.js';
import {
  markManualStepDone,
  modalValues,
  requestPreview,
  stepButtonSchema,
  submitParameters,
} from './stepActions.js';
import { webClientOptions } from './webClientOptions.js';

export interface SlackSettings {
  botToken: string;
  signingSecret: string;
  /** Socket Mode (local development) when set. */
  appToken?: string;
  /** Web API base, e.g. a proxy or GovSlack; default https://slack.com/api/. */
  apiUrl?: string;
}

export interface AccessPolicy {
  users?: string[];
  channels?: string[];
}

export interface SlackAppDeps {
  slack: SlackSettings;
  approvals: ApprovalService;
  audit: AuditLog;
  incidents: IncidentService;
  incidentStore: IncidentStore;
  access: AccessPolicy;
  targets: TargetRegistry;
  runbooks: RunbookLibrary;
  runs: RunStore;
  procedureRuns: ProcedureRunStore;
  queues: QueueBackend;
  metrics: Metrics;
  logger: Logger;
  routes: OpsRoute[];
  /** Whether a worker is alive to take what is queued; answers say so when none is. */
  workers?: WorkerPresence;
}

const SLACK_ENDPOINT = '/slack/events';
/** The commands the app registers (manifest.yml) and the modals it opens; Slack sends no others. */
const LISTENED = { commands: ['/runbook', '/incident'], views: [ACTIONS.parametersModal] };

/** Longer command text is refused with its length; details belong in a thread or a status. */
const MAX_COMMAND_TEXT = 4000;

/** The answer to command text over {@link MAX_COMMAND_TEXT}, or undefined when it fits. */
function tooLong(command: string, text: string): string | undefined {
  if (text.length <= MAX_COMMAND_TEXT) return undefined;
  return `That \`${command}\` text is ${text.length} characters long; the most it takes is ${MAX_COMMAND_TEXT}. Shorten it and try again.`;
}

/** The fields of a slash command the bot relies on; anything else Slack sends is ignored. */
const slashCommandSchema = z.object({
  text: z.string(),
  user_id: z.string().min(1),
  channel_id: z.string().min(1),
  trigger_id: z.string().min(1),
  response_url: z.string().url(),
});

/**
 * The Bolt app: validates, authorizes, records and enqueues, then acknowledges, all well
 * inside Slack's 3 seconds. Workers do the database work and post the results.
 */
export function createSlackApp(deps: SlackAppDeps): App {
  const logger = slackLogger(deps.logger, 'bolt');
  const starter = new HealthRunStarter(deps.runs, deps.queues, deps.logger, deps.workers);
  const clientOptions = webClientOptions(deps.slack.apiUrl, deps.logger);
  // Commands and buttons need only the bot token. Bolt's default authorization would call
  // auth.test on the first request, so a Slack hiccup at that moment would fail a command.
  const authorize = async () => ({ botToken: deps.slack.botToken });
  // Every request passes through each global middleware and each listener's chain, on the
  // ack path. The bot keeps no conversation state and subscribes to no events (so it can
  // never receive its own), so Bolt's conversation store and self-filter are left out.
  const common = { authorize, logger, clientOptions, convoStore: false as const, ignoreSelf: false };
  const receiver = deps.slack.appToken
    ? undefined
    : new HTTPReceiver({
        signingSecret: deps.slack.signingSecret,
        endpoints: SLACK_ENDPOINT,
        customRoutes: deps.routes,
        processBeforeResponse: false,
        logger,
      });
  const app = receiver
    ? new App({ ...common, receiver })
    : new App({ ...common, appToken: deps.slack.appToken, socketMode: true });
  // Bodies Bolt would crash on or never acknowledge are answered before it sees them.
  const guardLogger = deps.logger.child({ component: 'slack-guard' });
  // Over HTTP the receiver's guard has checked the body already; Socket Mode deliveries do not
  // pass it, so they are checked as events instead (once per request, not twice).
  if (receiver)
    guardHttpReceiver(receiver, {
      signingSecret: deps.slack.signingSecret,
      endpoint: SLACK_ENDPOINT,
      listened: LISTENED,
      logger: guardLogger,
    });
  else guardEvents(app, LISTENED, guardLogger);

  app.command('/runbook', async ({ command, ack, respond }) => {
    const started = performance.now();
    const reply = async (text: string, outcome: string, subcommand: string) => {
      await ack({ response_type: 'ephemeral', text });
      deps.metrics.commands.inc({ subcommand, outcome });
      deps.metrics.ackLatency.observe((performance.now() - started) / 1000);
    };
    const payload = slashCommandSchema.safeParse(command);
    if (!payload.success) {
      await reply('That command arrived incomplete; please try again.', 'invalid', 'unknown');
      return;
    }
    const overlong = tooLong('/runbook', payload.data.text);
    if (overlong) return reply(overlong, 'invalid', 'unknown');
    const parsed = parseRunbookCommand(payload.data.text);
    if (parsed.kind === 'help') return reply(RUNBOOK_USAGE, 'ok', 'help');
    if (parsed.kind === 'invalid') return reply(parsed.message, 'invalid', 'unknown');

    const refusal = refuse(deps.access, payload.data.user_id, payload.data.channel_id);
    if (refusal) return reply(refusal, 'refused', parsed.kind);
    if (parsed.kind !== 'health') {
      try {
        const answer = await answerRunbookCommand(deps, parsed, {
          userId: payload.data.user_id,
          channelId: payload.data.channel_id,
          requestId: payload.data.trigger_id,
        });
        await reply(answerText(answer) ?? '', answer.outcome, parsed.kind);
        if (answer.followUp) await followUp(answer.followUp, respond, parsed.kind, deps.logger);
        return;
      } catch (err) {
        deps.logger.error({ err, subcommand: parsed.kind }, '/runbook could not be handled');
        return reply(UNAVAILABLE, 'unavailable', parsed.kind);
      }
    }
    let targetName: string;
    try {
      targetName = deps.targets.resolve(parsed.target).name;
    } catch (err) {
      if (err instanceof UserError) return reply(err.message, 'invalid', parsed.kind);
      throw err;
    }
    const result = await starter.start({
      target: targetName,
      requestedBy: payload.data.user_id,
      channelId: payload.data.channel_id,
      responseUrl: payload.data.response_url,
      idempotencyKey: `slash:${payload.data.trigger_id}`,
    });
    return reply(answerText(result) ?? '', result.outcome, parsed.kind);
  });

  /**
   * One way for every button: acknowledge, read the value, apply the access policy, act, and
   * answer the person who clicked. A malformed value, a failure of the state database or the
   * queue, and a failed answer (an expired trigger, say) are all answered or at least
   * logged, never left as a silent click. All buttons share one Bolt listener that picks the
   * handler by action id: Bolt runs every event through every listener's chain.
   */
  const buttons = new Map<string, ButtonHandler>();
  const buttonHandler = <T>(
    readValue: (raw: string | undefined) => T | undefined,
    act: (click: {
      value: T;
      user: string;
      channel: string;
      clickId: string;
      /** The message the button is on. */
      messageTs?: string;
    }) => Promise<ButtonReply>,
    /** Records a click the access policy refused (approval buttons: every refusal is audited). */
    refused?: (click: { value: T; user: string; reason: string }) => Promise<void>,
  ): ButtonHandler => {
    return async ({ ack, body, action, respond, client }) => {
      await ack();
      const actionId = action.action_id;
      const value = readValue('value' in action ? action.value : undefined);
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
  };
  const onButton = <T>(actionId: string, ...handler: Parameters<typeof buttonHandler<T>>) => {
    buttons.set(actionId, buttonHandler(...handler));
  };
  // Not one of ours (a button of a message this version no longer makes): it has no value the
  // bot can read, so it is answered as out of date like a damaged one.
  const unknownButton = buttonHandler(
    () => undefined,
    async () => undefined,
  );
  app.action({ type: 'block_actions' }, (args) =>
    (buttons.get(args.action.action_id) ?? unknownButton)(args),
  );

  onButton(ACTIONS.stepPreview, jsonValue(stepButtonSchema), async ({ value, user, channel, clickId }) => {
    const outcome = await requestPreview(deps, value, user, clickId, channel);
    if (!outcome.ok) return { text: outcome.reason };
    if (outcome.kind === 'needs-parameters') return { view: outcome.view };
    const workersDown = await deps.workers?.down();
    return workersDown ? { text: queuedWithoutWorkerText('The preview', workersDown) } : undefined;
  });

  app.view(ACTIONS.parametersModal, async ({ ack, view, body }) => {
    // The channel the Preview was pressed in travels in the modal's metadata.
    const channel = (safeJson(view.private_metadata) as { channel?: unknown } | undefined)?.channel;
    const refusal = refuse(deps.access, body.user.id, typeof channel === 'string' ? channel : undefined);
    if (refusal) {
      await ack({ response_action: 'errors', errors: firstBlockError(view, refusal) });
      return;
    }
    let outcome: Awaited<ReturnType<typeof submitParameters>>;
    try {
      outcome = await submitParameters(
        deps,
        view.private_metadata,
        modalValues(view.state),
        body.user.id,
        view.id,
      );
    } catch (err) {
      deps.logger.error({ err }, 'a parameters form could not be handled');
      await ack({ response_action: 'errors', errors: firstBlockError(view, UNAVAILABLE) });
      return;
    }
    if ('errors' in outcome) await ack({ response_action: 'errors', errors: outcome.errors });
    else if (!outcome.ok)
      await ack({ response_action: 'errors', errors: firstBlockError(view, outcome.reason) });
    else await ack();
  });

  onButton(ACTIONS.manualDone, jsonValue(stepButtonSchema), async ({ value, user }) => {
    const outcome = await markManualStepDone(deps, value, user);
    return outcome.ok ? { replaceWith: outcome.blocks, text: 'Step done' } : { text: outcome.reason };
  });

  onButton(
    ACTIONS.healthRerun,
    jsonValue(z.object({ target: z.string().min(1).max(200) })),
    async ({ value, user, channel, clickId }) => {
      // A report of a target since removed (or a forged value): refused before anything is
      // recorded, as `/runbook health <name>` is.
      let target: string;
      try {
        target = deps.targets.resolve(value.target).name;
      } catch (err) {
        if (err instanceof UserError) return { text: err.message };
        throw err;
      }
      return decisionReply(
        await starter.start({
          target,
          requestedBy: user,
          channelId: channel,
          idempotencyKey: `rerun:${user}:${clickId}`,
        }),
      );
    },
  );

  onButton(
    ACTIONS.healthDetails,
    jsonValue(z.object({ runId: z.uuid(), check: z.string().min(1).max(64) })),
    async ({ value, channel, messageTs }) => {
      if (!messageTs) return { text: OUT_OF_DATE };
      try {
        // One detail post per finding while the job exists, however often the button is clicked.
        await deps.queues.enqueue({
          name: JOBS.findingDetail,
          data: { ...value, channel, threadTs: messageTs },
        });
        return undefined;
      } catch (err) {
        deps.logger.warn({ err }, 'could not enqueue finding details');
        return { text: 'The job queue is unavailable right now; press Details again in a minute.' };
      }
    },
  );

  // The approval card's buttons: the request id is the value; the service applies the policy.
  const requestId = plainValue(z.uuid());
  const refusedAccess = ({ value, user, reason }: { value: string; user: string; reason: string }) =>
    deps.approvals.refusedAccess(value, user, reason);
  // Each decision, and what workers carry out after it (told when none is alive to).
  const decisions = [
    [ACTIONS.requestApproval, 'requestApproval', "The card's update (Approve for the approvers)"],
    [
      ACTIONS.approve,
      'approve',
      'What this approval sets off (the card, and the execution once enough approvals are in)',
    ],
    [ACTIONS.reject, 'reject', "The card's update"],
  ] as const;
  for (const [actionId, decide, followUp] of decisions)
    onButton(
      actionId,
      requestId,
      async ({ value, user }) =>
        withWorkerStatus(await deps.approvals[decide](value, user), deps.workers, followUp),
      refusedAccess,
    );

  app.command('/incident', async ({ command, ack }) => {
    const payload = slashCommandSchema.safeParse(command);
    if (!payload.success) {
      await ack({ response_type: 'ephemeral', text: 'That command arrived incomplete; please try again.' });
      return;
    }
    const overlong = tooLong('/incident', payload.data.text);
    if (overlong) {
      await ack({ response_type: 'ephemeral', text: overlong });
      return;
    }
    const refusal = refuse(deps.access, payload.data.user_id, payload.data.channel_id);
    let text: string;
    try {
      text = refusal ?? answerText(await answerIncidentCommand(deps.incidents, payload.data)) ?? '';
    } catch (err) {
      deps.logger.error({ err }, '/incident could not be handled');
      text = UNAVAILABLE;
    }
    await ack({ response_type: 'ephemeral', text });
  });

  // The root message's buttons do what `/incident report` and `/incident resolve` do there.
  const incidentId = plainValue(z.uuid());
  // The button names its incident: in `current` channel mode a channel can hold several.
  onButton(ACTIONS.incidentReport, incidentId, async ({ channel, value }) =>
    decisionReply(await deps.incidents.report(channel, value)),
  );
  onButton(ACTIONS.incidentResolve, incidentId, async ({ channel, user, value }) =>
    decisionReply(await deps.incidents.resolve(channel, user, undefined, value)),
  );

  // "Declare incident" on a report with a critical finding: the same as /incident declare.
  onButton(
    ACTIONS.declareIncident,
    jsonValue(declareButtonSchema),
    async ({ value, user, channel, clickId }) =>
      decisionReply(
        await deps.incidents.declare({
          ...value,
          user,
          channelId: channel,
          requestId: `button:${clickId}:${user}`,
        }),
      ),
  );

  app.error(async (err) => {
    deps.logger.error({ err }, 'unhandled error in a Slack listener');
  });
  return app;
}

/** The second half of an answer: its text, or why there is none, through the response URL. */
async function followUp(
  work: () => Promise<string>,
  respond: RespondFn,
  subcommand: string,
  logger: Logger,
): Promise<void> {
  let text: string;
  try {
    text = await work();
  } catch (err) {
    logger.error({ err, subcommand }, `/runbook ${subcommand} failed after its acknowledgement`);
    text = `\`/runbook ${subcommand}\` did not finish: ${errorText(err)}`;
  }
  await respond({ response_type: 'ephemeral', text }).catch((err: unknown) =>
    logger.warn({ err, subcommand }, 'could not send a follow-up answer'),
  );
}

function refuse(access: AccessPolicy, user: string, channel: string | undefined): string | undefined {
  if (access.users && access.users.length > 0 && !access.users.includes(user)) {
    return 'You are not on the list of people allowed to run runbook-bot here. Ask an admin to add you to ALLOWED_USERS.';
  }
  if (channel && access.channels && access.channels.length > 0 && !access.channels.includes(channel)) {
    return 'runbook-bot is not enabled in this channel. Use it in one listed in ALLOWED_CHANNELS.';
  }
  return undefined;
}

type ButtonHandler = (args: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs) => Promise<void>;

type ButtonReply =
  | { text: string; replaceWith?: undefined; view?: undefined }
  | { text: string; replaceWith: KnownBlock[]; view?: undefined }
  | { view: View; text?: undefined; replaceWith?: undefined }
  | undefined;

const OUT_OF_DATE = 'That button is out of date or damaged; run the command again for a fresh one.';

const UNAVAILABLE =
  'That did not go through: runbook-bot could not reach its state database or job queue. Try again in a minute.';

/** A button value that is JSON checked against a schema. */
function jsonValue<T>(schema: z.ZodType<T>) {
  return (raw: string | undefined): T | undefined => {
    const parsed = schema.safeParse(safeJson(raw));
    return parsed.success ? parsed.data : undefined;
  };
}

/** A button value used as it is (an id), checked against a schema. */
function plainValue<T>(schema: z.ZodType<T>) {
  return (raw: string | undefined): T | undefined => {
    const parsed = schema.safeParse(raw);
    return parsed.success ? parsed.data : undefined;
  };
}

/** A decision's words for the person who clicked (an approval that only counts says so too). */
function decisionReply(decision: Answer): ButtonReply {
  const text = answerText(decision);
  return text ? { text } : undefined;
}

/**
 * A decision that went through is carried out by workers (the card, the execution): with none
 * alive the click would change the database and nothing on screen, so the person is told.
 */
async function withWorkerStatus(
  decision: Answer,
  workers: WorkerPresence | undefined,
  what: string,
): Promise<ButtonReply> {
  const down = decision.ok ? await workers?.down() : undefined;
  if (!down) return decisionReply(decision);
  const text = answerText(decision);
  return { text: `${text ? `${text} ` : ''}${queuedWithoutWorkerText(what, down)}` };
}

/** Slack's id for one click: a retried delivery carries the same one. */
function clickId(action: object): string {
  return 'action_ts' in action && typeof action.action_ts === 'string'
    ? action.action_ts
    : String(Date.now());
}

/** A modal-level error shown on its first input (Slack attaches errors to input blocks). */
function firstBlockError(view: { blocks: Array<{ type: string; block_id?: string }> }, message: string) {
  const input = view.blocks.find((block) => block.type === 'input');
  return input?.block_id ? { [input.block_id]: message } : {};
}

function safeJson(text: string | undefined): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
