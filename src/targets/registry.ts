import type { Suggestion } from '../answer.js';
import { ConfigError, UserError } from '../errors.js';
import { closestNames, namesText, orList } from '../text.js';
import { DEFAULT_TARGET_SETTINGS, type Target } from './target.js';
import { isPostgresUrl, readTargetsFile } from './targetsFile.js';

export class UnknownTargetError extends UserError {
  override name = 'UnknownTargetError';
}

export const NO_TARGETS =
  'No target databases are configured. Set TARGET_DATABASE_URL, or TARGETS_FILE to a targets.yml.';

/** Where to look a target's name up, in the words Slack and the terminal share. */
const LIST_TARGETS: readonly Suggestion[] = [
  { family: 'runbook', words: 'targets', does: 'lists them with their tags' },
];

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

  /** The target used when none is named: the file's `default:`, TARGET_DATABASE_URL's, or the only one. */
  defaultTarget(): string | undefined {
    return this.defaultName ?? (this.byName.size === 1 ? this.names()[0] : undefined);
  }

  /** The named target, or the default; a clear error lists what is known. */
  resolve(name?: string): Target {
    const wanted = name ?? this.defaultTarget();
    if (wanted === undefined) {
      if (this.byName.size === 0) {
        throw new UnknownTargetError(NO_TARGETS);
      }
      throw new UnknownTargetError(
        `${this.byName.size} targets are configured; name one: ${namesText(this.names())}.`,
        { suggestions: LIST_TARGETS },
      );
    }
    const target = this.byName.get(wanted);
    if (!target) {
      if (this.byName.size === 0)
        throw new UnknownTargetError(`Unknown target "${wanted}": none is configured.`);
      const close = closestNames(wanted, this.names());
      throw new UnknownTargetError(
        close.length > 0
          ? `Unknown target "${wanted}". Did you mean ${orList(close.map((name) => `"${name}"`))}?`
          : `Unknown target "${wanted}". Known targets: ${namesText(this.names())}.`,
        { suggestions: LIST_TARGETS },
      );
    }
    return target;
  }
}

export const ENV_TARGET_NAME = 'default';

/** The target variables, as config.ts read them. */
export interface TargetVariables {
  /** TARGETS_FILE */
  targetsFile?: string;
  /** TARGET_DATABASE_URL */
  databaseUrl?: string;
  /** TARGET_NAME */
  name?: string;
}

/**
 * Targets from the environment: `TARGETS_FILE` (YAML naming env vars, looked up with
 * `variable`) and/or a single `TARGET_DATABASE_URL`, which becomes the target `default` (or
 * `TARGET_NAME`).
 */
export function loadTargetRegistry(
  vars: TargetVariables,
  variable: (name: string) => string | undefined,
): TargetRegistry {
  const targets: Target[] = [];
  let defaultName: string | undefined;
  if (vars.targetsFile) {
    const file = readTargetsFile(vars.targetsFile, variable);
    targets.push(...file.targets);
    defaultName = file.defaultTarget;
  }
  if (vars.databaseUrl) {
    if (!isPostgresUrl(vars.databaseUrl)) {
      throw new ConfigError('TARGET_DATABASE_URL is not a postgres:// or postgresql:// URL.');
    }
    const name = vars.name ?? ENV_TARGET_NAME;
    if (targets.some((target) => target.name === name)) {
      throw new ConfigError(
        `TARGET_DATABASE_URL defines target "${name}", which ${vars.targetsFile} defines too. Set TARGET_NAME to another name, or remove one.`,
      );
    }
    targets.push({
      name,
      url: vars.databaseUrl,
      tags: [],
      settings: { ...DEFAULT_TARGET_SETTINGS },
      thresholdOverrides: {},
      source: 'TARGET_DATABASE_URL',
    });
    defaultName ??= name;
  }
  return new TargetRegistry(targets, defaultName);
}
