import { describe, expect, it } from 'vitest';
import { checkInboundBody, parseInboundBody } from '../../src/slack/inboundBody.js';

const LISTENED = { commands: ['/runbook', '/incident'], views: ['parameters'] };
const FORM = 'application/x-www-form-urlencoded';
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

describe('inbound Slack bodies', () => {
  it('lets through what Slack sends the bot: commands, clicks, modal submissions, URL verification', () => {
    const command = form({ command: '/runbook', user_id: 'U1', text: 'health', channel_id: 'C1' });
    expect(parseInboundBody(command, FORM, LISTENED)).toMatchObject({ ok: true, body: { text: 'health' } });
    const click = {
      type: 'block_actions',
      user: { id: 'U1', username: 'a' },
      team: null,
      channel: { id: 'C1', name: 'x' },
      actions: [{ action_id: 'health_rerun', block_id: 'b', value: '{}', action_ts: '1.2' }],
    };
    expect(parseInboundBody(form({ payload: JSON.stringify(click) }), FORM, LISTENED).ok).toBe(true);
    const submission = {
      type: 'view_submission',
      user: { id: 'U1' },
      view: {
        id: 'V1',
        callback_id: 'parameters',
        private_metadata: '',
        blocks: [{ type: 'input', block_id: 'pid' }],
        state: { values: { pid: { value: { type: 'plain_text_input', value: null } } } },
      },
    };
    expect(checkInboundBody(submission, LISTENED).ok).toBe(true);
    // A menu's choice is a string value, or nothing chosen; anything else is refused.
    const chose = (selected: unknown) => ({
      ...submission,
      view: { ...submission.view, state: { values: { pid: { pick: { selected_option: selected } } } } },
    });
    expect(
      checkInboundBody(chose({ text: { type: 'plain_text', text: '42' }, value: '42' }), LISTENED).ok,
    ).toBe(true);
    expect(checkInboundBody(chose(null), LISTENED).ok).toBe(true);
    expect(checkInboundBody(chose({ value: 42 }), LISTENED).ok).toBe(false);
    // A modal the bot never opened would have no listener to acknowledge it.
    expect(
      checkInboundBody({ ...submission, view: { ...submission.view, callback_id: 'x' } }, LISTENED),
    ).toEqual({
      ok: false,
      reason: 'runbook-bot opened no modal "x"',
    });
    expect(
      parseInboundBody('{"type":"url_verification","challenge":"c"}', 'application/json', LISTENED).ok,
    ).toBe(true);
  });

  it.each([
    ['payload=null', 'the body is null, not an object'],
    ['payload=%5B1%5D', 'the body is an array, not an object'],
    ['payload=%22x%22', 'the body is a string, not an object'],
    ['payload=%7Bnot', 'the form field `payload` is not JSON'],
    ['payload=%7B%22type%22%3A1%7D', '`type` is not a string'],
    [
      'command=%2Frunbook&command=%2Fincident&user_id=U1',
      'slash command: `command` is an array, not a string',
    ],
    ['command=runbook&user_id=U1', 'slash command: `command` must be a command name such as /runbook'],
    ['command=%2Frunbook&user_id=U1&text=a&text=b', 'slash command: `text` is an array, not a string'],
  ])('refuses %s: %s', (raw, reason) => {
    expect(parseInboundBody(raw, FORM, LISTENED)).toEqual({ ok: false, reason });
  });

  it('refuses a click whose fields the listeners read are of the wrong kind', () => {
    const click = (extra: object) => ({
      type: 'block_actions',
      user: { id: 'U1' },
      actions: [{ action_id: 'a' }],
      ...extra,
    });
    expect(checkInboundBody(click({ actions: [null] }), LISTENED).ok).toBe(false);
    expect(checkInboundBody(click({ actions: [{ action_id: 'a', value: 5 }] }), LISTENED).ok).toBe(false);
    expect(checkInboundBody(click({ channel: { id: 5 } }), LISTENED).ok).toBe(false);
    expect(checkInboundBody(click({ user: { id: '' } }), LISTENED).ok).toBe(false);
  });
});
