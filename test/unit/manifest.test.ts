import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';

/** The parts of Slack's manifest schema (slackapi/manifest-schema) this app uses, with their limits. */
const manifestSchema = z.object({
  _metadata: z.object({ major_version: z.literal(1), minor_version: z.number().int() }),
  display_information: z.object({
    name: z.string().min(1).max(35),
    description: z.string().max(140),
    long_description: z.string().min(175).max(4000),
    background_color: z.string().regex(/^#[0-9a-fA-F]{6}$/),
  }),
  features: z.object({
    bot_user: z.object({ display_name: z.string().min(1).max(80), always_online: z.boolean() }),
    slash_commands: z.array(
      z.object({
        command: z.string().regex(/^\/[a-z0-9_-]{1,31}$/),
        url: z.string().url().optional(),
        description: z.string().min(1).max(2000),
        usage_hint: z.string().max(1000).optional(),
        should_escape: z.boolean(),
      }),
    ),
  }),
  oauth_config: z.object({ scopes: z.object({ bot: z.array(z.string()) }) }),
  settings: z.object({
    interactivity: z.object({ is_enabled: z.boolean(), request_url: z.string().url().optional() }),
    org_deploy_enabled: z.boolean(),
    socket_mode_enabled: z.boolean(),
    token_rotation_enabled: z.boolean(),
  }),
});

describe('manifest.yml', () => {
  const manifest = manifestSchema.parse(
    parse(readFileSync(new URL('../../manifest.yml', import.meta.url), 'utf8')),
  );

  it('declares both commands on the receiver endpoint, with interactivity there too', () => {
    expect(manifest.features.slash_commands.map((command) => command.command)).toEqual([
      '/runbook',
      '/incident',
    ]);
    for (const command of manifest.features.slash_commands) expect(command.url).toMatch(/\/slack\/events$/);
    expect(manifest.settings.interactivity).toMatchObject({
      is_enabled: true,
      request_url: expect.stringMatching(/\/slack\/events$/),
    });
  });

  it('asks for the scopes the bot uses', () => {
    expect(manifest.oauth_config.scopes.bot).toEqual(
      expect.arrayContaining([
        'commands',
        'chat:write',
        'chat:write.public',
        'channels:manage',
        'pins:write',
        'files:write',
        'users:read',
        // postOnce looks up whether an earlier attempt posted before posting again.
        'channels:history',
        'groups:history',
      ]),
    );
  });
});
