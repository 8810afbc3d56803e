import { tz } from '@date-fns/tz';
import { format } from 'date-fns';
import { type IncidentReportInput, SEVERITY_LABEL } from './model.js';

export interface ReportJson {
  incident: {
    id: string;
    number: number;
    title: string;
    severity: string;
    status: string;
    commander: string;
  };
  sections: {
    date: string;
    severity: string;
    whatBroke: { title: string; findings: string[] };
    rootCause: { text: string; suggested: boolean };
    impact: {
      usersAffected: string;
      dataLost: string;
      duration: string;
      durationMinutes: number;
      findings: number;
    };
    fixApplied: Array<{
      title: string;
      target: string;
      status: string;
      summary: string;
      sql: string;
      params: Array<string | number>;
      approvers: string[];
      verification?: { before?: string; after?: string };
    }>;
    rolledBack: string[];
    prevention: { text: string; suggested: boolean };
  };
  timeline: Array<{ at: string; local: string; kind: string; actor: string; text: string }>;
}

export interface ReportDraft {
  markdown: string;
  json: ReportJson;
  filename: string;
}

const FILL_IN = '_Unknown: fill this in._';

/**
 * The incident report draft, in the seed template's sections and order, composed only from
 * the record: nothing is invented, suggestions from the runbook are marked as such, and what
 * only people know is left for them to fill in. Pure: the same input gives the same draft.
 */
export function composeIncidentReport(input: IncidentReportInput): ReportDraft {
  const { incident } = input;
  const zone = tz(input.timeZone);
  const local = (at: Date) => format(at, 'yyyy-MM-dd HH:mm zzz', { in: zone });
  const end = incident.resolvedAt ?? input.now;
  const minutes = Math.max(0, Math.round((end.getTime() - incident.declaredAt.getTime()) / 60_000));
  const duration = `${humanDuration(minutes)}${incident.resolvedAt ? '' : ' (still open)'}`;
  const findings = input.findings.map(
    (finding) => `${finding.target}: ${finding.title} (${finding.status}): ${finding.summary}`,
  );
  const rootCause = input.matchedProcedure?.rootCause
    ? { text: input.matchedProcedure.rootCause, suggested: true }
    : { text: '', suggested: false };
  const prevention = input.matchedProcedure?.prevention
    ? { text: input.matchedProcedure.prevention, suggested: true }
    : { text: '', suggested: false };
  const suggestion = input.matchedProcedure
    ? `_(suggested by runbook \`${input.matchedProcedure.id}\`, not confirmed)_`
    : '';

  const lines: string[] = [
    `# Incident Report: INC-${incident.number} ${incident.title}`,
    '',
    `## Date: ${format(incident.declaredAt, 'yyyy-MM-dd', { in: zone })}`,
    `## Severity: ${SEVERITY_LABEL[incident.severity]}`,
    '',
    `Commander: @${incident.commander} · Declared ${local(incident.declaredAt)} by @${incident.declaredBy} · ${
      incident.resolvedAt ? `Resolved ${local(incident.resolvedAt)}` : 'Still open'
    }${incident.summary ? ` · ${incident.summary}` : ''}`,
    '',
    '### What Broke',
    incident.title,
    ...(findings.length > 0
      ? ['', ...findings.map((finding) => `- ${finding}`)]
      : ['', '_No health findings were recorded for the target during the incident._']),
    '',
    '### Root Cause',
    rootCause.suggested
      ? `${rootCause.text}\n\n${suggestion}`
      : '_Not determined yet: the commander fills this in._',
    '',
    '### Impact',
    `- Users affected: ${FILL_IN}`,
    `- Duration: ${duration}`,
    `- Data lost: ${FILL_IN}`,
    `- Findings: ${findings.length}`,
    '',
    '### Fix Applied',
    ...(input.remediations.length === 0
      ? ['No remediation was executed through runbook-bot.']
      : input.remediations.flatMap((fix) => [
          `#### ${fix.title} on ${fix.target}: ${fix.status}`,
          `${fix.summary} (${local(fix.at)}; approved by ${fix.approvers.map((user) => `@${user}`).join(', ') || 'nobody recorded'})`,
          '```sql',
          fix.sql,
          '```',
          ...fix.params.map((value, i) => `- \`$${i + 1}\` = \`${String(value)}\``),
          ...(fix.verification
            ? [
                `- Verification before: ${fix.verification.before ?? 'not run'}; after: ${fix.verification.after ?? 'not run'}`,
              ]
            : []),
          '',
        ])),
    '',
    '### What Was Rolled Back',
    ...(input.rolledBack.length > 0 ? input.rolledBack.map((item) => `- ${item}`) : ['Nothing recorded.']),
    '',
    '### Prevention',
    prevention.suggested
      ? `${prevention.text}\n\n${suggestion}`
      : '_Not decided yet: the team fills this in._',
    '',
    '### Timeline',
    `| Time (${input.timeZone}) | Who | What |`,
    '|---|---|---|',
    ...input.timeline.map((entry) => `| ${local(entry.at)} | ${cell(entry.actor)} | ${cell(entry.text)} |`),
    '',
  ];

  const json: ReportJson = {
    incident: {
      id: incident.id,
      number: incident.number,
      title: incident.title,
      severity: incident.severity,
      status: incident.status,
      commander: incident.commander,
    },
    sections: {
      date: format(incident.declaredAt, 'yyyy-MM-dd', { in: zone }),
      severity: SEVERITY_LABEL[incident.severity],
      whatBroke: { title: incident.title, findings },
      rootCause,
      impact: {
        usersAffected: 'unknown',
        dataLost: 'unknown',
        duration,
        durationMinutes: minutes,
        findings: findings.length,
      },
      fixApplied: input.remediations.map((fix) => ({
        title: fix.title,
        target: fix.target,
        status: fix.status,
        summary: fix.summary,
        sql: fix.sql,
        params: fix.params,
        approvers: fix.approvers,
        verification: fix.verification,
      })),
      rolledBack: input.rolledBack,
      prevention,
    },
    timeline: input.timeline.map((entry) => ({
      at: entry.at.toISOString(),
      local: local(entry.at),
      kind: entry.kind,
      actor: entry.actor,
      text: entry.text,
    })),
  };
  return {
    markdown: lines.join('\n'),
    json,
    filename: `incident-${incident.number}-${format(incident.declaredAt, 'yyyy-MM-dd', { in: zone })}.md`,
  };
}

function humanDuration(minutes: number): string {
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours === 0) return `${rest} min`;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

/** A Markdown table cell: pipes escaped, line breaks flattened. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replace(/\s*\n\s*/g, ' ');
}
