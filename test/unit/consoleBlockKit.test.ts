import { describe, expect, it } from 'vitest';
import { checkMessage, checkView } from '../../src/console/blockKit.js';

const plain = (text: string) => ({ type: 'plain_text', text });
const md = (text: string) => ({ type: 'mrkdwn', text });
const section = (text: string) => ({ type: 'section', text: md(text) });
const button = (extra: Record<string, unknown> = {}) => ({
  type: 'button',
  text: plain('Run'),
  action_id: 'run',
  ...extra,
});

/** What a health report looks like when the bot posts it. */
const report = [
  { type: 'header', text: plain('Health report: prod') },
  section('*Status:* :red_circle: critical'),
  {
    type: 'section',
    block_id: 'summary',
    fields: [md('*Checks*\n12'), md('*Failing*\n2'), plain('Duration 42 ms')],
    accessory: { type: 'image', image_url: 'https://example.com/pg.png', alt_text: 'postgres' },
  },
  { type: 'divider' },
  {
    type: 'context',
    elements: [
      md('Target `prod` · <https://example.com|dashboard>'),
      { type: 'image', image_url: 'https://x/y.png', alt_text: 'x' },
    ],
  },
  {
    type: 'actions',
    block_id: 'report_actions',
    elements: [
      button({ style: 'primary', value: 'prod' }),
      button({
        action_id: 'terminate',
        text: plain('Terminate backend'),
        style: 'danger',
        confirm: {
          title: plain('Terminate pid 4242?'),
          text: md('This *kills* the session.'),
          confirm: plain('Terminate'),
          deny: plain('Cancel'),
          style: 'danger',
        },
      }),
      { type: 'overflow', action_id: 'more', options: [] },
    ],
  },
];

const inputBlock = {
  type: 'input',
  block_id: 'reason',
  label: plain('Reason'),
  element: { type: 'plain_text_input', action_id: 'reason', multiline: true, placeholder: plain('Why?') },
};

const modal = (extra: Record<string, unknown> = {}) => ({
  type: 'modal',
  callback_id: 'approve',
  title: plain('Approve remediation'),
  submit: plain('Approve'),
  close: plain('Cancel'),
  blocks: [section('Kill pid 4242 on *prod*?'), inputBlock],
  ...extra,
});

describe('checkMessage', () => {
  it('accepts a realistic report message', () => {
    expect(checkMessage({ text: 'Health report: prod is critical', blocks: report })).toBeUndefined();
  });

  it('parses blocks sent as a JSON string, as form-encoded calls do', () => {
    expect(checkMessage({ text: 'fallback', blocks: JSON.stringify(report) })).toBeUndefined();
    const bad = JSON.stringify([{ type: 'header', text: plain('x'.repeat(151)) }]);
    expect(checkMessage({ text: 'fallback', blocks: bad })).toEqual({
      error: 'invalid_blocks',
      messages: ['[ERROR] must be less than 151 characters [json-pointer:/blocks/0/text/text]'],
    });
  });

  it('refuses blocks that are not an array or not JSON', () => {
    for (const blocks of [{ type: 'divider' }, '{"type":"divider"}', 'not json']) {
      expect(checkMessage({ text: 'x', blocks })).toEqual({
        error: 'invalid_blocks',
        messages: ['[ERROR] must be an array [json-pointer:/blocks]'],
      });
    }
  });

  it('answers no_text when there is neither text nor blocks', () => {
    expect(checkMessage({})?.error).toBe('no_text');
    expect(checkMessage({ text: '', blocks: [] })?.error).toBe('no_text');
    expect(checkMessage({ text: '', blocks: '' })?.error).toBe('no_text');
    expect(checkMessage({ text: 'just text' })).toBeUndefined();
    expect(checkMessage({ blocks: [{ type: 'divider' }] })).toBeUndefined();
  });

  it('answers msg_too_long over 40,000 characters of text', () => {
    expect(checkMessage({ text: 'x'.repeat(40_000) })).toBeUndefined();
    expect(checkMessage({ text: 'x'.repeat(40_001) })?.error).toBe('msg_too_long');
  });

  it('answers msg_blocks_too_long for enormous block payloads', () => {
    // Every block is within its own limits; only the total (~1 MB of JSON) is too much.
    const fields = Array.from({ length: 10 }, () => md('x'.repeat(2_000)));
    const huge = Array.from({ length: 50 }, () => ({ type: 'section', fields }));
    expect(checkMessage({ text: 'x', blocks: huge })?.error).toBe('msg_blocks_too_long');
  });

  it('refuses more than 50 blocks', () => {
    const blocks = Array.from({ length: 51 }, () => ({ type: 'divider' }));
    expect(checkMessage({ text: 'x', blocks: blocks.slice(0, 50) })).toBeUndefined();
    expect(checkMessage({ text: 'x', blocks })).toEqual({
      error: 'invalid_blocks',
      messages: ['[ERROR] must provide an array of no more than 50 items [json-pointer:/blocks]'],
    });
  });

  it('refuses a duplicate or over-long block_id', () => {
    const blocks = [section('a'), { ...section('b'), block_id: 'x' }, { type: 'divider', block_id: 'x' }];
    expect(checkMessage({ text: 'x', blocks })).toEqual({
      error: 'invalid_blocks',
      messages: ['[ERROR] duplicate block_id [json-pointer:/blocks/2/block_id]'],
    });
    expect(
      checkMessage({ text: 'x', blocks: [{ type: 'divider', block_id: 'b'.repeat(256) }] })?.messages,
    ).toEqual(['[ERROR] must be less than 256 characters [json-pointer:/blocks/0/block_id]']);
  });

  it('refuses an unknown block type and unknown keys', () => {
    expect(
      checkMessage({ text: 'x', blocks: [{ type: 'divider' }, { type: 'markdown', text: 'hi' }] }),
    ).toEqual({
      error: 'invalid_blocks',
      messages: ['[ERROR] unsupported type: markdown [json-pointer:/blocks/1/type]'],
    });
    expect(checkMessage({ text: 'x', blocks: [{ type: 'divider', text: md('no') }] })?.messages).toEqual([
      '[ERROR] unsupported field: text [json-pointer:/blocks/0/text]',
    ]);
    expect(checkMessage({ text: 'x', blocks: [{ block_id: 'a' }] })?.messages).toEqual([
      '[ERROR] missing required field: type [json-pointer:/blocks/0]',
    ]);
  });

  it('checks text objects', () => {
    const cases: [unknown, string][] = [
      [
        { type: 'section', text: md('') },
        '[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]',
      ],
      [
        { type: 'section', text: { ...md('a'), emoji: true } },
        '[ERROR] unsupported field: emoji [json-pointer:/blocks/0/text/emoji]',
      ],
      [
        { type: 'section', text: { type: 'html', text: 'a' } },
        '[ERROR] unsupported type: html [json-pointer:/blocks/0/text/type]',
      ],
      [
        { type: 'section', text: { type: 'mrkdwn' } },
        '[ERROR] missing required field: text [json-pointer:/blocks/0/text]',
      ],
      [
        { type: 'header', text: md('Report') },
        '[ERROR] must be a valid enum value [json-pointer:/blocks/0/text/type]',
      ],
    ];
    for (const [block, message] of cases) {
      expect(checkMessage({ text: 'x', blocks: [block] }), message).toEqual({
        error: 'invalid_blocks',
        messages: [message],
      });
    }
  });

  it('refuses a header over 150 characters', () => {
    expect(
      checkMessage({ text: 'x', blocks: [{ type: 'header', text: plain('h'.repeat(150)) }] }),
    ).toBeUndefined();
    expect(checkMessage({ text: 'x', blocks: [{ type: 'header', text: plain('h'.repeat(151)) }] })).toEqual({
      error: 'invalid_blocks',
      messages: ['[ERROR] must be less than 151 characters [json-pointer:/blocks/0/text/text]'],
    });
  });

  it('applies the section limits', () => {
    const fields = (n: number, length = 1) => Array.from({ length: n }, () => md('f'.repeat(length)));
    const refusal = (block: unknown) => checkMessage({ text: 'x', blocks: [section('ok'), block] })?.messages;
    expect(refusal({ type: 'section' })).toEqual([
      '[ERROR] must define either `text` or `fields` [json-pointer:/blocks/1/type]',
    ]);
    expect(refusal(section('s'.repeat(3001)))).toEqual([
      '[ERROR] must be less than 3001 characters [json-pointer:/blocks/1/text/text]',
    ]);
    expect(refusal({ type: 'section', fields: fields(11) })).toEqual([
      '[ERROR] must provide an array of no more than 10 items [json-pointer:/blocks/1/fields]',
    ]);
    expect(refusal({ type: 'section', fields: [md('a'), md('f'.repeat(2001))] })).toEqual([
      '[ERROR] must be less than 2001 characters [json-pointer:/blocks/1/fields/1/text]',
    ]);
    expect(refusal({ ...section('a'), accessory: { type: 'image', image_url: 'https://x/y.png' } })).toEqual([
      '[ERROR] missing required field: alt_text [json-pointer:/blocks/1/accessory]',
    ]);
    expect(refusal({ ...section('a'), accessory: { type: 'static_select', options: [] } })).toEqual([
      '[ERROR] missing required field: action_id [json-pointer:/blocks/1/accessory]',
    ]);
    expect(refusal({ ...section('a'), accessory: { type: 'checkboxes', action_id: 'c' } })).toEqual([
      '[ERROR] unsupported type: checkboxes [json-pointer:/blocks/1/accessory/type]',
    ]);
  });

  it('applies the context, actions and image block limits', () => {
    const refusal = (block: unknown) => checkMessage({ text: 'x', blocks: [block] })?.messages;
    expect(refusal({ type: 'context', elements: [] })).toEqual([
      '[ERROR] must provide at least 1 items [json-pointer:/blocks/0/elements]',
    ]);
    expect(refusal({ type: 'context', elements: Array.from({ length: 11 }, () => md('c')) })).toEqual([
      '[ERROR] must provide an array of no more than 10 items [json-pointer:/blocks/0/elements]',
    ]);
    expect(refusal({ type: 'actions', elements: Array.from({ length: 26 }, () => button()) })).toEqual([
      '[ERROR] must provide an array of no more than 25 items [json-pointer:/blocks/0/elements]',
    ]);
    expect(
      refusal({ type: 'actions', elements: [{ type: 'radio_buttons', action_id: 'r'.repeat(256) }] }),
    ).toEqual(['[ERROR] must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]']);
    expect(refusal({ type: 'image', image_url: 'https://x/y.png', alt_text: 'a', title: md('t') })).toEqual([
      '[ERROR] must be a valid enum value [json-pointer:/blocks/0/title/type]',
    ]);
    expect(refusal({ type: 'image', image_url: 'u'.repeat(3001), alt_text: 'a' })).toEqual([
      '[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/image_url]',
    ]);
    expect(
      refusal({ type: 'rich_text', elements: [{ type: 'rich_text_section', elements: [] }] }),
    ).toBeUndefined();
  });

  it('checks buttons', () => {
    const refusal = (extra: Record<string, unknown>) =>
      checkMessage({ text: 'x', blocks: [{ type: 'actions', elements: [button(extra)] }] })?.messages;
    expect(refusal({ text: md('*Run*') })).toEqual([
      '[ERROR] must be a valid enum value [json-pointer:/blocks/0/elements/0/text/type]',
    ]);
    expect(refusal({ style: 'secondary' })).toEqual([
      '[ERROR] must be a valid enum value [json-pointer:/blocks/0/elements/0/style]',
    ]);
    expect(refusal({ text: plain('b'.repeat(76)) })).toEqual([
      '[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]',
    ]);
    expect(refusal({ value: 'v'.repeat(2001) })).toEqual([
      '[ERROR] must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]',
    ]);
    expect(refusal({ url: 'u'.repeat(3001) })).toEqual([
      '[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]',
    ]);
    const confirm = { title: plain('Sure?'), text: md('Really'), confirm: plain('Yes'), deny: plain('No') };
    expect(refusal({ confirm })).toBeUndefined();
    expect(refusal({ confirm: { ...confirm, confirm: plain('y'.repeat(31)) } })).toEqual([
      '[ERROR] must be less than 31 characters [json-pointer:/blocks/0/elements/0/confirm/confirm/text]',
    ]);
    expect(refusal({ confirm: { ...confirm, deny: undefined } })).toEqual([
      '[ERROR] missing required field: deny [json-pointer:/blocks/0/elements/0/confirm]',
    ]);
  });

  it('refuses input blocks in messages', () => {
    expect(checkMessage({ text: 'x', blocks: [section('a'), inputBlock] })).toEqual({
      error: 'invalid_blocks',
      messages: ['[ERROR] input blocks are not allowed in messages [json-pointer:/blocks/1/type]'],
    });
  });
});

describe('checkView', () => {
  it('accepts a modal with inputs and a submit button, as an object or a JSON string', () => {
    expect(checkView(modal())).toBeUndefined();
    expect(checkView(JSON.stringify(modal()))).toBeUndefined();
    expect(checkView({ type: 'home', blocks: report })).toBeUndefined();
  });

  it('refuses a modal title over 24 characters', () => {
    expect(checkView(modal({ title: plain('t'.repeat(24)) }))).toBeUndefined();
    expect(checkView(modal({ title: plain('t'.repeat(25)) }))).toEqual({
      error: 'invalid_arguments',
      messages: ['[ERROR] must be less than 25 characters [json-pointer:/view/title/text]'],
    });
  });

  it('refuses a modal with input blocks but no submit', () => {
    expect(checkView(modal({ submit: undefined }))).toEqual({
      error: 'invalid_arguments',
      messages: [
        '[ERROR] missing required field: submit (a modal with input blocks needs one) [json-pointer:/view]',
      ],
    });
    expect(checkView(modal({ submit: undefined, blocks: [section('read only')] }))).toBeUndefined();
  });

  it('applies the view limits', () => {
    const refusal = (view: unknown) => checkView(view)?.messages;
    expect(refusal(modal({ title: undefined }))).toEqual([
      '[ERROR] missing required field: title [json-pointer:/view]',
    ]);
    expect(refusal(modal({ close: md('Cancel') }))).toEqual([
      '[ERROR] must be a valid enum value [json-pointer:/view/close/type]',
    ]);
    expect(refusal(modal({ private_metadata: 'm'.repeat(3001) }))).toEqual([
      '[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]',
    ]);
    expect(refusal(modal({ callback_id: 'c'.repeat(256) }))).toEqual([
      '[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]',
    ]);
    expect(refusal(modal({ blocks: Array.from({ length: 101 }, () => ({ type: 'divider' })) }))).toEqual([
      '[ERROR] must provide an array of no more than 100 items [json-pointer:/view/blocks]',
    ]);
    expect(refusal(modal({ notify_on_close: 'yes' }))).toEqual([
      '[ERROR] must be a boolean [json-pointer:/view/notify_on_close]',
    ]);
    expect(refusal({ ...modal(), type: 'workflow_step' })).toEqual([
      '[ERROR] unsupported type: workflow_step [json-pointer:/view/type]',
    ]);
    expect(refusal('{not json')).toEqual(['[ERROR] must be an object [json-pointer:/view]']);
  });

  it('checks input blocks inside views', () => {
    const withInput = (input: Record<string, unknown>) =>
      checkView(modal({ blocks: [{ ...inputBlock, ...input }] }))?.messages;
    expect(withInput({ label: plain('l'.repeat(2001)) })).toEqual([
      '[ERROR] must be less than 2001 characters [json-pointer:/view/blocks/0/label/text]',
    ]);
    expect(withInput({ element: undefined })).toEqual([
      '[ERROR] missing required field: element [json-pointer:/view/blocks/0]',
    ]);
    expect(withInput({ element: { type: 'plain_text_input', max_length: 3001 } })).toEqual([
      '[ERROR] must be no larger than 3000 [json-pointer:/view/blocks/0/element/max_length]',
    ]);
    expect(withInput({ element: { type: 'plain_text_input', placeholder: plain('p'.repeat(151)) } })).toEqual(
      ['[ERROR] must be less than 151 characters [json-pointer:/view/blocks/0/element/placeholder/text]'],
    );
    expect(
      withInput({ optional: true, hint: plain('Optional'), element: { type: 'datepicker', action_id: 'd' } }),
    ).toBeUndefined();
    expect(
      checkView(modal({ blocks: [inputBlock, section('a'), { ...inputBlock, label: plain('Again') }] })),
    ).toEqual({
      error: 'invalid_arguments',
      messages: ['[ERROR] duplicate block_id [json-pointer:/view/blocks/2/block_id]'],
    });
  });
});
