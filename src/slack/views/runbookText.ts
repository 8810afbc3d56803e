import { knownTags } from '../../health/fleet.js';
import type { ProcedureMatch } from '../../runbooks/matchProcedures.js';
import { type Procedure, type Runbook, type Step, statementParameters } from '../../runbooks/model.js';
import type { LoadSummary, ProcedureRef } from '../../runbooks/runbookLibrary.js';
import type { Target } from '../../targets/target.js';
import { plural } from '../../text.js';
import { escapeMrkdwn } from './mrkdwn.js';

/**
 * Ephemeral answers to `/runbook list|show|match|reload|targets`, as mrkdwn text (up to Slack's
 * 40 000 characters; lists of procedures do not fit in 50 blocks).
 */

const TEXT_LIMIT = 39_000;

function fitLines(lines: string[], more: (hidden: number) => string): string {
  const kept: string[] = [];
  let length = 0;
  for (const [i, line] of lines.entries()) {
    if (length + line.length + 200 > TEXT_LIMIT) {
      kept.push(more(lines.length - i));
      break;
    }
    kept.push(line);
    length += line.length + 1;
  }
  return kept.join('\n');
}

export function runbookListText(runbooks: Runbook[]): string {
  const lines = [`*${plural(runbooks.length, 'runbook')}*`];
  for (const runbook of runbooks) {
    lines.push(`*${escapeMrkdwn(runbook.title)}* · \`${runbook.id}\` · ${runbook.source.origin}`);
    for (const procedure of runbook.procedures)
      lines.push(`    • \`${procedure.id}\` ${escapeMrkdwn(procedure.title)}`);
  }
  lines.push('`/runbook show <id>` shows a procedure’s steps; `/runbook run <id>` runs its checks here.');
  return fitLines(
    lines,
    (hidden) => `…and ${plural(hidden, 'more line')}: narrow it with \`/runbook list <query>\`.`,
  );
}

export function matchListText(query: string, matches: ProcedureMatch[], verb: 'list' | 'match'): string {
  if (matches.length === 0) {
    return verb === 'list'
      ? `No procedure mentions "${escapeMrkdwn(query)}". \`/runbook list\` shows them all.`
      : `No procedure matches "${escapeMrkdwn(query)}". Try other words from the error, or \`/runbook list\`.`;
  }
  const lines = [
    verb === 'match'
      ? `*Procedures for "${escapeMrkdwn(query)}"*, best first:`
      : `*Procedures mentioning "${escapeMrkdwn(query)}"*:`,
  ];
  for (const [i, match] of matches.entries()) {
    lines.push(
      `${i + 1}. *${escapeMrkdwn(match.procedure.title)}* · \`${match.procedure.id}\` (${escapeMrkdwn(match.runbook.title)})`,
      `     matched: ${escapeMrkdwn(match.because.join(', '))}`,
    );
  }
  lines.push(`Run one: \`/runbook run ${matches[0]!.procedure.id} [target]\``);
  return fitLines(lines, (hidden) => `…and ${plural(hidden, 'more line')}.`);
}

function stepLine(step: Step, position: number): string {
  const title = escapeMrkdwn(step.title);
  if (step.kind === 'manual') return `${position}. :ballot_box_with_check: ${title} · manual`;
  const params = statementParameters(step.statement)
    .map((param) => `${param.name}: ${param.type}`)
    .join(', ');
  const what =
    step.kind === 'check'
      ? 'check'
      : `action, risk ${step.risk}${step.noTransaction ? ', outside a transaction' : ''}`;
  return `${position}. ${step.kind === 'check' ? ':mag:' : ':hammer_and_wrench:'} ${title} · ${what} · \`${step.statement.kind}\`${params ? ` · needs ${params}` : ''}`;
}

export function procedureText({ runbook, procedure }: ProcedureRef): string {
  const lines = [
    `*${escapeMrkdwn(procedure.title)}* · \`${procedure.id}\``,
    `From *${escapeMrkdwn(runbook.title)}* (${runbook.source.origin}, line ${procedure.source.line})`,
  ];
  if (procedure.symptoms.length > 0)
    lines.push('*Symptoms*', ...procedure.symptoms.map((symptom) => `• ${escapeMrkdwn(symptom)}`));
  if (procedure.rootCause) lines.push('*Root cause*', escapeMrkdwn(procedure.rootCause));
  lines.push('*Steps*', ...procedure.steps.map((step, i) => stepLine(step, i + 1)));
  if (procedure.prevention) lines.push('*Prevention*', escapeMrkdwn(procedure.prevention));
  lines.push(`Run it: \`/runbook run ${procedure.id} [target]${parameterHint(procedure)}\``);
  return fitLines(lines, (hidden) => `…and ${plural(hidden, 'more line')} (see the runbook file).`);
}

function parameterHint(procedure: Procedure): string {
  const names = new Map<string, string>();
  for (const step of procedure.steps)
    if (step.kind !== 'manual')
      for (const param of statementParameters(step.statement)) names.set(param.name, param.example);
  return [...names].map(([name, example]) => ` ${name}=${example}`).join('');
}

export function reloadText(summary: LoadSummary): string {
  const lines = [
    `Reloaded ${plural(summary.runbooks, 'runbook')}, ${plural(summary.procedures, 'procedure')}, ${plural(summary.warnings, 'loader warning')}.`,
    ...summary.problems.map((problem) => `:warning: \`${problem.file}\`: ${escapeMrkdwn(problem.message)}`),
  ];
  return fitLines(lines, (hidden) => `…and ${plural(hidden, 'more problem')} (see the bot's log).`);
}

/**
 * `/runbook targets [tag:<tag> | words]`: the names people type after `/runbook health` and
 * `/runbook run`, with their tags; never a URL. With many targets the tags come first, so a
 * fleet can be narrowed by one.
 */
export function targetListText(all: readonly Target[], filter?: string): string {
  const tag = filter?.startsWith('tag:') ? filter.slice(4) : undefined;
  const words = tag === undefined ? filter?.toLowerCase() : undefined;
  const shown = all.filter((target) =>
    tag !== undefined
      ? target.tags.includes(tag)
      : !words ||
        target.name.includes(words) ||
        (target.description ?? '').toLowerCase().includes(words) ||
        target.tags.some((t) => t.toLowerCase().includes(words)),
  );
  if (all.length === 0)
    return 'No target databases are configured. Set `TARGET_DATABASE_URL`, or `TARGETS_FILE` to a targets file.';
  if (shown.length === 0 && tag !== undefined) {
    const known = knownTags(all);
    return `No target has the tag "${escapeMrkdwn(tag)}". ${
      known.length > 0 ? `Known tags: ${known.map(escapeMrkdwn).join(', ')}.` : 'No target has any tag.'
    } \`/runbook targets\` lists them all.`;
  }
  if (shown.length === 0)
    return `No target matches "${escapeMrkdwn(filter ?? '')}" among ${plural(all.length, 'target')}. \`/runbook targets\` lists them all.`;
  const tagCounts = new Map<string, number>();
  for (const target of shown) for (const t of target.tags) tagCounts.set(t, (tagCounts.get(t) ?? 0) + 1);
  const tags = [...tagCounts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const lines = [
    `*${plural(shown.length, 'target')}*${shown.length < all.length ? ` of ${all.length}` : ''}${
      tags.length > 0 ? ` · tags: ${tags.map(([t, n]) => `\`${escapeMrkdwn(t)}\` (${n})`).join(', ')}` : ''
    }`,
  ];
  for (const target of shown)
    lines.push(
      `• \`${target.name}\`${target.tags.length > 0 ? ` · tags: ${target.tags.map(escapeMrkdwn).join(', ')}` : ''}${
        target.description ? ` · ${escapeMrkdwn(target.description)}` : ''
      }`,
    );
  lines.push(
    tags.length > 0
      ? `\`/runbook health <target>\` checks one; \`/runbook health all\` or \`/runbook health tag:${escapeMrkdwn(tags[0]![0])}\` checks many and posts one summary.`
      : '`/runbook health <target>` checks one; `/runbook health all` checks them all and posts one summary.',
  );
  return fitLines(
    lines,
    (hidden) =>
      `…and ${plural(hidden, 'more line')}: narrow it with \`/runbook targets tag:<tag>\` or \`/runbook targets <words>\`.`,
  );
}
