/**
 * The anchor of bench/ack.ts: a bare Bolt app (the bot's @slack/bolt, its HTTPReceiver)
 * whose `/runbook` handler only acknowledges. What the bot's ack costs beyond this is the
 * bot's own work (recording, queueing, its answer). Run as a process of its own, as the bot is.
 *
 * Env: PORT, SLACK_SIGNING_SECRET. Answers GET /healthz (the load generator opens its
 * connections with it before the clock starts).
 */
import { App, HTTPReceiver } from '@slack/bolt';

const receiver = new HTTPReceiver({
  signingSecret: process.env.SLACK_SIGNING_SECRET ?? '',
  endpoints: '/slack/events',
  processBeforeResponse: false,
  customRoutes: [
    {
      path: '/healthz',
      method: ['GET'],
      handler: (_req, res) => {
        res.writeHead(200);
        res.end('ok\n');
      },
    },
  ],
});
// A fixed token, as the bot has: Bolt's default authorization would call auth.test.
const app = new App({ receiver, authorize: async () => ({ botToken: 'xoxb-bench' }) });
app.command('/runbook', async ({ ack }) => {
  await ack();
});
await app.start(Number(process.env.PORT));
process.send?.('ready');
process.on('disconnect', () => process.exit(0));
