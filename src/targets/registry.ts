import { ConfigError, UserError } from '../errors.js';
import { DEFAULT_TARGET_SETTINGS, type Target } from './target.js';
import { isPostgresUrl, readTargetsFile } from './targetsFile.js';

export class UnknownTargetError extends UserError {
  override name = 'UnknownTargetError';
}

/** The named targets the bot may act on, and which one is used when none is named. */
export class TargetRegistry {
  private readonly byName: Map<string, Target>;

  constructor(
    targets: Target[],
    private readonly defaultName?: string,
  ) {
    this.byName = new Map(targets.map((target) => [target.name, target]));
  }

  list(): Target[] {
    return [...this.byName.values()];
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The named target, or the default; a clear error lists what is known. */
  resolve(name?: string): Target {
    const wanted = name ?? this.defaultName ?? (this.byName.size === 1 ? this.names()[0] : undefined);
    if (wanted === undefined) {
      if (this.byName.size === 0) {
        throw new UnknownTargetError(
          'No target databases are configured. Set TARGET_DATABASE_URL, or TARGETS_FILE to a targets.yml.',
        );
      }
      throw new UnknownTargetError(`Several targets are configured; name one: ${this.names().join(', ')}.`);
    }
    const target = this.byName.get(wanted);
    if (!target) {
      const known = this.byName.size > 0 ? this.names().join(', ') : 'none';
      throw new UnknownTargetError(`Unknown target "${wanted}". Known targets: ${known}.`);
    }
    return target;
  }
}

export const ENV_TARGET_NAME = 'default';

/**
 * Targets from the environment: `TARGETS_FILE` (YAML naming env vars) and/or a single
 * `TARGET_DATABASE_URL`, which becomes the target `default` (or `TARGET_NAME`).
 */
export function loadTargetRegistry(env: NodeJS.ProcessEnv): TargetRegistry {
  const targets: Target[] = [];
  let defaultName: string | undefined;
  if (env.TARGETS_FILE) {
    const file = readTargetsFile(env.TARGETS_FILE, env);
    targets.push(...file.targets);
    defaultName = file.defaultTarget;
  }
  if (env.TARGET_DATABASE_URL) {
    if (!isPostgresUrl(env.TARGET_DATABASE_URL)) {
      throw new ConfigError('TARGET_DATABASE_URL is not a postgres:// or postgresql:// URL.');
    }
    const name = env.TARGET_NAME ?? ENV_TARGET_NAME;
    if (targets.some((target) => target.name === name)) {
      throw new ConfigError(
        `TARGET_DATABASE_URL defines target "${name}", which ${env.TARGETS_FILE} defines too. Set TARGET_NAME to another name, or remove one.`,
      );
    }
    targets.push({
      name,
      url: env.TARGET_DATABASE_URL,
      tags: [],
      settings: { ...DEFAULT_TARGET_SETTINGS },
      thresholdOverrides: {},
      source: 'TARGET_DATABASE_URL',
    });
    defaultName ??= name;
  }
  return new TargetRegistry(targets, defaultName);
}
