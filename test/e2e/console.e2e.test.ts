import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ConsoleDemo } from '../../src/demo/consoleDemo.js';
import { startTestConsoleDemo } from '../support/consoleDemo.js';

/**
 * The product as a person meets it: the demo (console + bot + faulty database), driven in
 * Debian's headless Chromium through the console page. Screenshots of each scene are kept
 * in test-artifacts/e2e/ (CI keeps them as artifacts).
 */

const [server] = inject('postgresServers');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(process.cwd(), 'test-artifacts', 'e2e');
// CI installs Chromium and sets REQUIRE_BROWSER, so a missing browser fails there instead of skipping.
const browserMissing = !existsSync(CHROMIUM);
if (browserMissing && process.env.REQUIRE_BROWSER) {
  throw new Error(`Chromium is not at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH.`);
}
if (browserMissing) {
  process.stderr.write(
    `Skipping the browser tests: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH).\n`,
  );
}

/** The flags this machine kind needs: root (no sandbox), no GPU, and no calls home. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe.skipIf(browserMissing)('the local Slack console in a real browser', () => {
  let demo: ConsoleDemo & { shopUrl: string };
  let browser: Browser;
  let page: Page;
  const failures: string[] = [];

  beforeAll(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    [demo, browser] = await Promise.all([
      startTestConsoleDemo(server!.url),
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }),
    ]);
  }, 90_000);
  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const open = async (user: string, channel = 'C0INCIDENTS') => {
    page = await browser.newPage({ viewport: { width: 1440, height: 960 } });
    page.on('pageerror', (err) => failures.push(err.message));
    await page.goto(`${demo.console.url}/?user=${user}&channel=${channel}`);
    await expect.poll(() => page.getByTestId('composer').isVisible()).toBe(true);
  };
  const type = async (text: string) => {
    await page.getByTestId('composer').fill(text);
    await page.getByTestId('composer').press('Enter');
  };
  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const message = (text: string | RegExp) => page.getByTestId('message').filter({ hasText: text });
  const thread = () => page.getByTestId('thread');
  const visible = (locator: ReturnType<Page['getByText']>, timeout = 30_000) =>
    locator.first().waitFor({ state: 'visible', timeout });

  afterEach(async () => {
    await page?.close();
    expect(failures, 'errors in the page').toEqual([]);
  });

  it('/runbook health: an ephemeral acknowledgement, then the report with its buttons', async () => {
    await open('U0ALICE');
    // The report finds seconds-old faults because the demo lowered thresholds: the page says which.
    await visible(page.getByTestId('console-note').filter({ hasText: 'idle_in_transaction.warn=1s' }));
    await type('/runbook health');
    await visible(message('Running health check on demo'));
    await expect.poll(() => message('Only visible to you').count()).toBeGreaterThan(0);
    await visible(message('Health of demo: CRITICAL'));
    const report = message('Health of demo: CRITICAL');
    await expect.poll(() => report.getByRole('button', { name: 'Re-run' }).count()).toBe(1);
    expect(await report.getByRole('button', { name: 'Details' }).count()).toBeGreaterThan(0);
    // One line per finding, with the procedure that fixes it; the evidence tables are behind Details.
    expect(
      await report.getByText('/runbook run postgres-health#terminate-idle-in-transaction').count(),
    ).toBeGreaterThan(0);
    expect(await report.locator('pre').count()).toBe(0);
    await shot('01-health-report');

    await report.getByRole('button', { name: 'Details' }).first().click();
    await visible(page.getByText(/1 repl/));
    await page
      .getByText(/1 repl/)
      .first()
      .click();
    await visible(thread().getByTestId('message'));
    await shot('02-health-details-thread');
  });

  it('a seed procedure: checks in the thread, preview, approval by a second person, outcome, audit', async () => {
    await open('U0ALICE');
    await type('/runbook run 2-shopify-sync-queue-stuck');
    await visible(message('Runbook: 2. Shopify Sync Queue Stuck'));
    await page
      .getByText(/7 replies/)
      .first()
      .click();
    const step6 = thread().getByTestId('message').filter({ hasText: '6. Reset failed items to retry' });
    await visible(step6);
    await visible(thread().getByText('queued  450'));
    await step6.getByRole('button', { name: 'Preview' }).click();
    const card = thread().getByTestId('message').filter({ hasText: 'UPDATE would change 50 rows' });
    await visible(card);
    await card.getByRole('button', { name: 'Request approval' }).click();
    await visible(thread().getByText(/requested approval/));
    await shot('03-request-card');

    // Alice may not approve her own request (high risk: the whole failed queue): the policy says so, ephemerally.
    await visible(card.getByRole('button', { name: 'Approve' }));
    await card.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Approve' }).click();
    await visible(page.getByText(/someone else must approve it/));

    await page.getByLabel('Acting as').selectOption('U0BOB');
    await visible(thread().getByTestId('message').filter({ hasText: 'UPDATE would change 50 rows' }));
    const cardForBob = thread().getByTestId('message').filter({ hasText: 'UPDATE would change 50 rows' });
    await cardForBob.getByRole('button', { name: 'Approve' }).click();
    const confirm = page.getByRole('alertdialog');
    await visible(confirm.getByText(/Approve/));
    await shot('04-approve-confirm');
    await confirm.getByRole('button', { name: 'Approve' }).click();
    await visible(thread().getByText(/execution succeeded: UPDATE changed 50 rows/));
    await visible(thread().getByText(/verification of request/));
    await visible(thread().getByText('queued  500'), 5_000).catch(() => undefined);
    await shot('05-executed-and-audited');

    // The change really happened, once.
    const shop = new pg.Client({ connectionString: demo.shopUrl });
    await shop.connect();
    try {
      const { rows } = await shop.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM shopify_sync_queue WHERE status = 'failed'",
      );
      expect(rows[0]!.n).toBe(0);
    } finally {
      await shop.end();
    }
  });

  it("a modal asks for an action's missing parameter, and the preview uses what was typed", async () => {
    await open('U0CAROL', 'C0DATABASE');
    await type('/runbook run 4-failed-shopify-sync-recovery');
    await visible(message('Runbook: 4. Failed Shopify Sync Recovery'));
    await page
      .getByText(/\d+ replies/)
      .first()
      .click();
    const step = thread().getByTestId('message').filter({ hasText: '2. Re-queue failed item' });
    await visible(step);
    await step.getByRole('button', { name: 'Preview' }).click();
    const modal = page.getByRole('dialog', { name: 'Parameters' });
    await visible(modal);
    await expect.poll(() => modal.getByText("written '<queue-item-id>' in the runbook").count()).toBe(1);
    await modal.getByLabel('queue_item_id').fill('40');
    await shot('06-parameters-modal');
    await modal.getByRole('button', { name: 'Preview' }).click();
    await modal.waitFor({ state: 'detached' });
    const card = thread().getByTestId('message').filter({ hasText: 'UPDATE would change 1 row' });
    await visible(card);
    expect(await card.textContent()).toContain('$1 = 40 (queue_item_id)');
    await shot('07-parameter-preview');
  });

  it('the idle-session fix runs without a pid: Preview offers the pids its diagnosis found', async () => {
    await open('U0CAROL', 'C0DATABASE');
    await type('/runbook run postgres-health#terminate-idle-in-transaction');
    await visible(message('Runbook: Terminate idle in transaction'));
    await message('Runbook: Terminate idle in transaction')
      .getByText(/\d+ replies/)
      .first()
      .click();
    await visible(thread().getByText(/Runs with the fix, before and after it/));
    const step = thread()
      .getByTestId('message')
      .filter({ hasText: '2. Terminate the idle-in-transaction session' });
    await step.getByRole('button', { name: 'Preview' }).click();
    const modal = page.getByRole('dialog', { name: 'Parameters' });
    await visible(modal);
    const menu = modal.getByRole('combobox', { name: /^pid/ });
    await expect.poll(() => menu.locator('option').count()).toBeGreaterThan(1);
    await menu.selectOption({ index: 1 });
    const pid = await menu.inputValue();
    expect(pid).toMatch(/^\d+$/);
    await shot('07b-parameter-choices');
    await modal.getByRole('button', { name: 'Preview' }).click();
    await modal.waitFor({ state: 'detached' });
    await visible(thread().getByText(`$1 = ${pid} (pid)`, { exact: false }));
  });

  it('an incident: declared into its own channel, resolved, with a report draft in its thread', async () => {
    await open('U0ALICE');
    await type('/incident declare P1 Checkout failing');
    const channelButton = page.getByRole('button', { name: /# inc-\d{8}-checkout-failing/ });
    await visible(channelButton);
    await channelButton.click();
    const root = message(/INC-\d+/).filter({ has: page.getByRole('button', { name: 'Resolve' }) });
    await visible(root);
    await shot('08-incident-channel');
    await root.getByRole('button', { name: 'Resolve' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Resolve' }).click();
    await visible(page.getByText(/resolved/i));
    await page
      .getByText(/\d+ repl/)
      .first()
      .click();
    const draft = thread().getByRole('link', { name: /\.md/ });
    await visible(draft, 30_000);
    await shot('09-incident-report-draft');
    // The link serves the draft the bot uploaded (files upload v2): the seed template's sections.
    const markdown = await (
      await fetch(new URL((await draft.first().getAttribute('href'))!, demo.console.url))
    ).text();
    expect(markdown).toMatch(/^# Incident Report: INC-\d+ Checkout failing/);
    for (const section of [
      '### What Broke',
      '### Root Cause',
      '### Impact',
      '### Fix Applied',
      '### Timeline',
    ])
      expect(markdown).toContain(section);
    // People by name, not Slack ids or markup: the draft is read outside Slack.
    expect(markdown).toMatch(/\| @alice \| @alice resolved the incident \|/);
    expect(markdown).toContain('- Commander: @alice');
    expect(markdown).not.toContain('<@');
  });
});
