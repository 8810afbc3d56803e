import { SLACK_USER_ID } from '../audit/describe.js';
import { formatInTimeZone, utcOffset } from '../time.js';
import { isTimeZone } from '../timeInput.js';
import { type IncidentReportInput, type RemediationRecord, SEVERITY_LABEL } from './model.js';
import { code, peopleIn, personName, phraseMarkdown, phrasePlain } from './timelineMarkdown.js';

/** The report draft as data: the same content as the Markdown, with ISO times beside local ones. */
export interface ReportJson {
  incident: {
    id: string;
    /** "INC-42". */
    reference: string;
    number: number;
    title: string;
    severity: string;
    status: 'open' | 'resolved';
    commander: string;
    declaredBy: string;
    target: string | null;
    declaredAt: string;
    declaredAtLocal: string;
    resolvedAt: string | null;
    resolvedAtLocal: string | null;
    /** Latest `/incident status` text. */
    statusText: string | null;
    /** The resolve summary. */
    summary: string | null;
  };
  /** IANA zone every `local` string is written in. */
  timeZone: string;
  sections: {
    /** Declare date in the time zone, yyyy-MM-dd. */
    date: string;
    /** "P1 High". */
    severity: string;
    whatBroke: {
      title: string;
      /** Critical first, then warn, as recorded. */
      findings: Array<{ target: string; title: string; status: string; summary: string }>;
    };
    /** `text` is null when nothing in the record says: the commander fills it in. */
    rootCause: { text: string | null; suggested: boolean; procedureId: string | null };
    impact: {
      usersAffected: string;
      /** "1 h 23 min", without the "(still open)" note: see `stillOpen`. */
      duration: string;
      durationMinutes: number;
      stillOpen: boolean;
      /** Where the duration ends: resolvedAt, or `now` for an open incident. */
      until: string;
      dataLost: string;
      /** The finding lines of "What Broke", `target: title — summary`. */
      findings: string[];
    };
    fixApplied: Array<{
      title: string;
      target: string;
      status: string;
      summary: string;
      sql: string;
      params: Array<string | number>;
      approvers: string[];
      verification: { before: string | null; after: string | null } | null;
      at: string;
      local: string;
    }>;
    rolledBack: string[];
    prevention: { text: string | null; suggested: boolean; procedureId: string | null };
  };
  timeline: Array<{ at: string; local: string; kind: string; actor: string; text: string }>;
}

export interface ReportDraft {
  markdown: string;
  json: ReportJson;
  /** e.g. "incident-42-2026-11-24.md" (declare date in the time zone). */
  filename: string;
}

const UNKNOWN_FILL_IN = 'unknown (fill in)';
export const ROOT_CAUSE_PLACEHOLDER =
  '_Root cause not recorded: the incident commander fills this in once it is confirmed._';
export const PREVENTION_PLACEHOLDER =
  '_Prevention not recorded: the incident commander fills in how to keep this from happening again._';
export const NO_REMEDIATION = 'No remediation was executed through runbook-bot.';
const NOTHING_ROLLED_BACK = 'Nothing recorded.';
const NO_FINDINGS = '_No critical or warning findings were recorded during the incident._';

const FINDING_ORDER: Record<string, number> = { critical: 0, warn: 1 };

/**
 * The incident report draft, in the seed template's sections and order (Date, Severity, What
 * Broke, Root Cause, Impact, Fix Applied, What Was Rolled Back, Prevention), then the timeline.
 * It is composed only from the structured record: the runbook's root cause and prevention are
 * marked as suggestions, and what only people know is left as a placeholder. Times are written
 * in `input.timeZone`. Pure: no I/O, and the same input gives the same draft.
 */
export function composeIncidentReport(input: IncidentReportInput): ReportDraft {
  const { incident } = input;
  const zone = assertTimeZone(input.timeZone);
  const local = (at: Date) => formatInTimeZone(at, zone);
  const day = (at: Date) => formatInTimeZone(at, zone).slice(0, 10);
  const reference = `INC-${incident.number}`;
  const people = input.people ?? {};
  const user = (id: string) => personName(id, people);

  const stillOpen = incident.resolvedAt === null;
  const until = incident.resolvedAt ?? input.now;
  const durationMinutes = Math.max(0, Math.round((until.getTime() - incident.declaredAt.getTime()) / 60_000));
  const duration = humanDuration(durationMinutes);

  const findings = input.findings
    .map((finding, index) => ({ finding, index }))
    .sort(
      (a, b) =>
        (FINDING_ORDER[a.finding.status] ?? 2) - (FINDING_ORDER[b.finding.status] ?? 2) || a.index - b.index,
    )
    .map(({ finding }) => ({ ...finding }));
  const findingLines = findings.map(
    (finding) => `${oneLine(finding.target)}: ${oneLine(finding.title)} — ${oneLine(finding.summary)}`,
  );

  const procedure = input.matchedProcedure;
  const rootCause = suggestion(procedure, procedure?.rootCause);
  const prevention = suggestion(procedure, procedure?.prevention);

  const lines: string[] = [
    `# Incident Report: ${reference} ${oneLine(incident.title)}`,
    '',
    `## Date: ${day(incident.declaredAt)}`,
    `## Severity: ${input.severityLabel ?? SEVERITY_LABEL[incident.severity]}`,
    '',
    `- Commander: ${user(incident.commander)}`,
    `- Declared: ${local(incident.declaredAt)} by ${user(incident.declaredBy)}`,
    stillOpen
      ? `- Status: still open (draft written ${local(input.now)})`
      : `- Status: resolved ${local(until)}`,
    ...(incident.target ? [`- Target: ${oneLine(incident.target)}`] : []),
    ...(incident.statusText ? [`- Latest status: ${oneLine(incident.statusText)}`] : []),
    ...(incident.summary ? [`- Summary: ${oneLine(incident.summary)}`] : []),
    `- Times are in ${zone} (${utcOffset(incident.declaredAt, zone)} on the declare date).`,
    '',
    '### What Broke',
    oneLine(incident.title),
    '',
    ...(findingLines.length > 0 ? findingLines.map((line) => `- ${line}`) : [NO_FINDINGS]),
    '',
    '### Root Cause',
    ...suggestedBlock(rootCause, ROOT_CAUSE_PLACEHOLDER),
    '',
    '### Impact',
    `- Users affected: ${UNKNOWN_FILL_IN}`,
    `- Duration: ${duration}${stillOpen ? ' (still open)' : ''}, from ${local(incident.declaredAt)} to ${local(until)}`,
    `- Data lost: ${UNKNOWN_FILL_IN}`,
    `- Findings recorded: ${findings.length} (${countBy(findings, 'critical')} critical, ${countBy(findings, 'warn')} warn)`,
    '',
    '### Fix Applied',
    ...(input.remediations.length === 0
      ? [NO_REMEDIATION]
      : input.remediations.flatMap((fix, index) => [
          ...(index > 0 ? [''] : []),
          ...remediationBlock(fix, local, user),
        ])),
    '',
    '### What Was Rolled Back',
    ...(input.rolledBack.length > 0
      ? input.rolledBack.map((item) => `- ${indentContinuation(item)}`)
      : [NOTHING_ROLLED_BACK]),
    '',
    '### Prevention',
    ...suggestedBlock(prevention, PREVENTION_PLACEHOLDER),
    '',
    '### Timeline',
    '',
    `| Time (${zone}) | Who | What |`,
    '| --- | --- | --- |',
    ...input.timeline.map(
      (entry) =>
        `| ${local(entry.at)} | ${cell(user(entry.actor))} | ${cell(phraseMarkdown(entry.what, people))} |`,
    ),
    '',
  ];

  const json: ReportJson = {
    incident: {
      id: incident.id,
      reference,
      number: incident.number,
      title: incident.title,
      severity: incident.severity,
      status: incident.status,
      commander: incident.commander,
      declaredBy: incident.declaredBy,
      target: incident.target,
      declaredAt: incident.declaredAt.toISOString(),
      declaredAtLocal: local(incident.declaredAt),
      resolvedAt: incident.resolvedAt?.toISOString() ?? null,
      resolvedAtLocal: incident.resolvedAt ? local(incident.resolvedAt) : null,
      statusText: incident.statusText,
      summary: incident.summary,
    },
    timeZone: zone,
    sections: {
      date: day(incident.declaredAt),
      severity: input.severityLabel ?? SEVERITY_LABEL[incident.severity],
      whatBroke: { title: incident.title, findings },
      rootCause,
      impact: {
        usersAffected: UNKNOWN_FILL_IN,
        duration,
        durationMinutes,
        stillOpen,
        until: until.toISOString(),
        dataLost: UNKNOWN_FILL_IN,
        findings: findingLines,
      },
      fixApplied: input.remediations.map((fix) => ({
        title: fix.title,
        target: fix.target,
        status: fix.status,
        summary: fix.summary,
        sql: fix.sql,
        params: [...fix.params],
        approvers: [...fix.approvers],
        verification: fix.verification
          ? { before: fix.verification.before ?? null, after: fix.verification.after ?? null }
          : null,
        at: fix.at.toISOString(),
        local: local(fix.at),
      })),
      rolledBack: [...input.rolledBack],
      prevention,
    },
    timeline: input.timeline.map((entry) => ({
      at: entry.at.toISOString(),
      local: local(entry.at),
      kind: entry.kind,
      actor: entry.actor,
      text: phrasePlain(entry.what, people),
    })),
  };

  return {
    markdown: lines.join('\n'),
    json,
    // A draft of an open incident and the one written at resolve land in the same thread: the
    // open one's name says when it was written, so a download never replaces the other.
    filename: `incident-${incident.number}-${day(incident.declaredAt)}${
      incident.resolvedAt ? '' : `-draft-${local(input.now).slice(11, 16).replace(':', '')}`
    }.md`,
  };
}

/** "1 h 23 min", "45 min", "2 d 3 h 0 min": whole minutes, rounded. */
export function humanDuration(totalMinutes: number): string {
  const minutes = Math.max(0, Math.round(totalMinutes));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  if (days > 0) return `${days} d ${hours} h ${rest} min`;
  if (hours > 0) return `${hours} h ${rest} min`;
  return `${rest} min`;
}

function assertTimeZone(zone: string): string {
  if (!isTimeZone(zone)) throw new RangeError(`Unknown time zone "${zone}" for the incident report.`);
  return zone;
}

function suggestion(
  procedure: IncidentReportInput['matchedProcedure'],
  text: string | undefined,
): { text: string | null; suggested: boolean; procedureId: string | null } {
  return procedure && text?.trim()
    ? { text: text.trim(), suggested: true, procedureId: procedure.id }
    : { text: null, suggested: false, procedureId: null };
}

function suggestedBlock(
  value: { text: string | null; procedureId: string | null },
  placeholder: string,
): string[] {
  if (value.text === null) return [placeholder];
  return [value.text, '', `_(suggested by runbook \`${value.procedureId}\`, not confirmed)_`];
}

function remediationBlock(
  fix: RemediationRecord,
  local: (at: Date) => string,
  user: (id: string) => string,
): string[] {
  const fence = codeFence(fix.sql);
  return [
    `#### ${oneLine(fix.title)}`,
    `- Target: ${oneLine(fix.target)}`,
    `- Status: ${oneLine(fix.status)} (${local(fix.at)})`,
    `- Approved by: ${fix.approvers.length > 0 ? fix.approvers.map(user).join(', ') : 'no approver recorded'}`,
    `- Outcome: ${indentContinuation(fix.summary)}`,
    ...(fix.verification
      ? [
          `- Verification before: ${indentContinuation(fix.verification.before ?? 'not run')}`,
          `- Verification after: ${indentContinuation(fix.verification.after ?? 'not run')}`,
        ]
      : []),
    '',
    `${fence}sql`,
    fix.sql,
    fence,
    ...(fix.params.length > 0
      ? ['', 'Bound values:', ...fix.params.map((value, i) => `- ${code(`$${i + 1} = ${sqlValue(value)}`)}`)]
      : []),
  ];
}

/** A bound value as SQL would show it: numbers bare, strings quoted. */
function sqlValue(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replaceAll("'", "''")}'`;
}

/** Every Slack user id the draft will name: the people to look up before composing it. */
export function peopleInReport(input: IncidentReportInput): string[] {
  const ids = new Set([input.incident.commander, input.incident.declaredBy]);
  for (const fix of input.remediations) for (const id of fix.approvers) ids.add(id);
  for (const entry of input.timeline) {
    ids.add(entry.actor);
    for (const id of peopleIn(entry.what)) ids.add(id);
  }
  return [...ids].filter((id) => SLACK_USER_ID.test(id));
}

function countBy(findings: Array<{ status: string }>, status: string): number {
  return findings.filter((finding) => finding.status === status).length;
}

/** A Markdown table cell: pipes escaped, line breaks as <br>. */
function cell(text: string): string {
  return text.replace(/\r\n?/g, '\n').trim().replaceAll('|', '\\|').replace(/\n/g, '<br>');
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** Keeps a multi-line text inside its list item. */
function indentContinuation(text: string): string {
  return text.replace(/\r\n?/g, '\n').trim().replace(/\n/g, '\n  ');
}

/** A fence longer than any backtick run in the text. */
function codeFence(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  return '`'.repeat(Math.max(3, longest + 1));
}
