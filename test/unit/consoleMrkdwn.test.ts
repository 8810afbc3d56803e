import { describe, expect, it } from 'vitest';
import { mrkdwnToHtml, plainText } from '../../src/console/public/mrkdwn.js';

const lookup = {
  userName: (id: string) => ({ U0ALICE: 'alice', U0BOT: 'runbook-bot' })[id],
  channelName: (id: string) => ({ C0OPS: 'ops' })[id],
};
const html = (text: string) => mrkdwnToHtml(text, lookup);
const LINK = 'target="_blank" rel="noopener noreferrer"';

describe('console mrkdwn', () => {
  it('formats bold, italic, strike and code', () => {
    expect(html('*bold* _italic_ ~gone~ `code`')).toBe(
      '<b>bold</b> <i>italic</i> <s>gone</s> <code>code</code>',
    );
    expect(html('a\n```select 1;\nselect 2;```\nb')).toBe('a<pre>select 1;\nselect 2;</pre>b');
    expect(html('line one\nline two')).toBe('line one<br>line two');
  });

  it('does not format inside code', () => {
    expect(html('`*not bold* _nor italic_ :x:`')).toBe('<code>*not bold* _nor italic_ :x:</code>');
    expect(html('```*a* <@U0ALICE> <https://x.test|x>```')).toBe(
      '<pre>*a* &lt;@U0ALICE&gt; &lt;https://x.test|x&gt;</pre>',
    );
  });

  it('leaves markers inside words alone', () => {
    expect(html('snake_case_name and 2*3*4')).toBe('snake_case_name and 2*3*4');
  });

  it('turns links into safe anchors, with or without a label', () => {
    expect(html('<https://example.test/a?b=1&amp;c=2|the runbook>')).toBe(
      `<a href="https://example.test/a?b=1&amp;c=2" ${LINK}>the runbook</a>`,
    );
    expect(html('<https://example.test>')).toBe(
      `<a href="https://example.test" ${LINK}>https://example.test</a>`,
    );
    expect(html('<mailto:ops@example.test|mail us>')).toBe(
      `<a href="mailto:ops@example.test" ${LINK}>mail us</a>`,
    );
    // Other schemes are not links: the label is shown as text.
    expect(html('<javascript:alert(1)|click>')).toBe('click');
  });

  it('names users and channels through the lookup', () => {
    expect(html('<@U0ALICE> asked <@U0NOBODY> in <#C0OPS> and <#C0DEV|dev>')).toBe(
      '<span class="mention">@alice</span> asked <span class="mention">@U0NOBODY</span> in ' +
        '<span class="mention">#ops</span> and <span class="mention">#dev</span>',
    );
    expect(html('<!here> <!channel> <!everyone>')).toBe(
      '<span class="mention">@here</span> <span class="mention">@channel</span> ' +
        '<span class="mention">@everyone</span>',
    );
    expect(html('*<@U0ALICE>*')).toBe('<b><span class="mention">@alice</span></b>');
  });

  it('escapes markup instead of injecting it', () => {
    expect(html('<script>alert(1)</script>')).toBe('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html('&lt;img src=x onerror=alert(1)&gt;')).toBe('&lt;img src=x onerror=alert(1)&gt;');
    expect(html('" onerror="alert(1)')).toBe('&quot; onerror=&quot;alert(1)');
    expect(html('<https://x.test/"onmouseover="alert(1)|hi>')).toBe(
      `<a href="https://x.test/&quot;onmouseover=&quot;alert(1)" ${LINK}>hi</a>`,
    );
    expect(html('<https://x.test|<b>label</b>>')).toBe('&lt;https://x.test|&lt;b&gt;label&lt;/b&gt;&gt;');
    expect(
      mrkdwnToHtml('<@U1>', { userName: () => '<img src=x onerror=alert(1)>', channelName: () => undefined }),
    ).toBe('<span class="mention">@&lt;img src=x onerror=alert(1)&gt;</span>');
  });

  it('shows text the bot escaped as the characters it stands for, escaped once', () => {
    expect(html('a &lt; b &amp;&amp; c &gt; d')).toBe('a &lt; b &amp;&amp; c &gt; d');
    expect(html('&amp;lt; is how you write &lt;')).toBe('&amp;lt; is how you write &lt;');
    expect(html('`x &lt;&gt; y`')).toBe('<code>x &lt;&gt; y</code>');
  });

  it('makes blockquotes of lines starting with >', () => {
    expect(html('&gt; quoted *line*\n> second\nafter')).toBe(
      '<blockquote>quoted <b>line</b><br>second</blockquote>after',
    );
  });

  it('maps the emoji the bot uses and leaves unknown shortcodes and times alone', () => {
    expect(html(':rotating_light: :warning: :white_check_mark: :x: :memo: :large_green_circle:')).toBe(
      '🚨 ⚠️ ✅ ❌ 📝 🟢',
    );
    expect(html(':not_an_emoji: at 12:15:00')).toBe(':not_an_emoji: at 12:15:00');
  });

  it('escapes plain_text objects', () => {
    expect(plainText({ type: 'plain_text', text: 'Health <prod> & "co" :x:' })).toBe(
      'Health &lt;prod&gt; &amp; &quot;co&quot; ❌',
    );
    expect(plainText({ type: 'plain_text', text: ':x:', emoji: false })).toBe(':x:');
  });
});
