import type { App, RespondFn } from '@slack/bolt';
import { z } from 'zod';
import { type Answer, answerText } from '../../../answer.js';
import { slashCommand } from '../../../commands/runbookCommand.js';
import type { Logger } from '../../../logger.js';
import { errorText } from '../../../redact.js';
import { refuse, UNAVAILABLE } from '../access.js';
import type { ListenerDeps } from '../deps.js';

/** The fields of a slash command the bot relies on; anything else Slack sends is ignored. */
const slashCommandSchema = z.object({
  text: z.string(),
  user_id: z.string().min(1),
  channel_id: z.string().min(1),
  trigger_id: z.string().min(1),
  response_url: z.string().url(),
});

export type SlashPayload = z.infer<typeof slashCommandSchema>;

/** Longer command text is refused with its length; details belong in a thread or a status. */
const MAX_COMMAND_TEXT = 4000;

/** An answer and how it counts in the command metrics; absent, done counts as ok and a refusal as refused. */
export type CommandAnswer = Answer & {
  outcome?: string;
  /**
   * Work that would not fit before the acknowledgement: done after it, its text sent to the
   * person through the command's response URL.
   */
  followUp?: () => Promise<string>;
};

/** A slash command: its grammar and the answer to each parsed subcommand. */
export interface SlashCommand<Parsed extends { kind: string }> {
  name: string;
  parse(text: string): Parsed | { kind: 'help' } | { kind: 'invalid'; message: string };
  /** Its subcommands by name: text that starts with one and is refused is counted under it. */
  subcommands: readonly Parsed['kind'][];
  usage: string;
  answer(parsed: Parsed, payload: SlashPayload): Promise<CommandAnswer>;
}

/**
 * Registers one slash command on the same path as every other: an incomplete or overlong
 * payload, the access policy, help, a grammar error, the answer, and a failure of the state
 * database or the queue each get an ephemeral answer within the acknowledgement, and each
 * is counted the same way (`runbook_bot_commands_total` by command, subcommand and outcome;
 * the acknowledgement's latency).
 */
export function registerSlashCommand<Parsed extends { kind: string }>(
  app: App,
  deps: ListenerDeps,
  command: SlashCommand<Parsed>,
): void {
  app.command(command.name, async ({ command: body, ack, respond }) => {
    const started = performance.now();
    const reply = async (text: string, outcome: string, subcommand: string) => {
      await ack({ response_type: 'ephemeral', text });
      deps.metrics.commands.inc({ command: command.name, subcommand, outcome });
      deps.metrics.ackLatency.observe({ command: command.name }, (performance.now() - started) / 1000);
    };
    const payload = slashCommandSchema.safeParse(body);
    if (!payload.success)
      return reply('That command arrived incomplete; please try again.', 'invalid', 'unknown');
    const { text } = payload.data;
    if (text.length > MAX_COMMAND_TEXT)
      return reply(
        `That \`${command.name}\` text is ${text.length} characters long; the most it takes is ${MAX_COMMAND_TEXT}. Shorten it and try again.`,
        'invalid',
        'unknown',
      );
    const parsed = command.parse(text);
    const subcommand = parsed.kind === 'invalid' ? named(command.subcommands, text) : parsed.kind;
    // Someone the access policy leaves out learns that first, whatever they typed.
    const refusal = refuse(deps.access, payload.data.user_id, payload.data.channel_id);
    if (refusal) return reply(refusal, 'refused', subcommand);
    if (parsed.kind === 'help') return reply(command.usage, 'ok', 'help');
    if ('message' in parsed && parsed.kind === 'invalid') return reply(parsed.message, 'invalid', subcommand);
    let answer: CommandAnswer;
    try {
      answer = await command.answer(parsed as Parsed, payload.data);
    } catch (err) {
      deps.logger.error({ err, command: command.name, subcommand }, `${command.name} could not be handled`);
      return reply(UNAVAILABLE, 'unavailable', subcommand);
    }
    await reply(
      answerText(answer, slashCommand) ?? '',
      answer.outcome ?? (answer.ok ? 'ok' : 'refused'),
      subcommand,
    );
    if (answer.followUp)
      await followUp(answer.followUp, respond, `${command.name} ${subcommand}`, deps.logger);
  });
}

/** The subcommand the text names (`show` in "show" with its id missing), or 'unknown'. */
function named(subcommands: readonly string[], text: string): string {
  const first = text.trim().split(/\s+/, 1)[0]?.toLowerCase() ?? '';
  return subcommands.includes(first) ? first : 'unknown';
}

/** The second half of an answer: its text, or why there is none, through the response URL. */
async function followUp(work: () => Promise<string>, respond: RespondFn, what: string, logger: Logger) {
  let text: string;
  try {
    text = await work();
  } catch (err) {
    logger.error({ err, command: what }, `${what} failed after its acknowledgement`);
    text = `\`${what}\` did not finish: ${errorText(err)}`;
  }
  await respond({ response_type: 'ephemeral', text }).catch((err: unknown) =>
    logger.warn({ err, command: what }, 'could not send a follow-up answer'),
  );
}
