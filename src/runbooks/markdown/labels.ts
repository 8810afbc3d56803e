/**
 * What the labels in a runbook mean. Authors mark the parts of an incident with sub-headings
 * (`### Root Cause`), bold paragraphs (`**Diagnosis**:`) or bold list items
 * (`1. **Verify Recovery**:`), each in their own words. Labels are compared after
 * normalizing: mojibake repaired, emoji, numbering and parentheticals removed, lower-case.
 */
import { repairMojibake } from './mojibake.js';

/**
 * The part of a procedure a label opens:
 * - symptoms, rootCause, prevention: prose kept on the procedure; their lists are not steps
 *   (and code under prevention is advice for next time, not something to run now);
 * - verify: confirms a fix; its checks get role 'verify', its lists are kept as prose;
 * - remediate / diagnose: explicit step sections; their lists are steps;
 * - other: a label that says nothing about its part (`**RTO: 2 hours**`).
 */
export type LabelCategory =
  | 'symptoms'
  | 'rootCause'
  | 'prevention'
  | 'verify'
  | 'remediate'
  | 'diagnose'
  | 'other';

/** `### ⚡ IMMEDIATE FIX (5 minutes)` → `immediate fix`; `**2. Verify Rotation**:` → `verify rotation`. */
function normalizeLabel(text: string): string {
  return repairMojibake(text)
    .toLowerCase()
    .replace(/\([^)]*\)/g, ' ')
    .replace(/[^a-z0-9'&/ -]+/g, ' ')
    .replace(/^[\s\W]*(?:step\s*)?\d+[a-z]?[.):]?\s+/, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Sub-headings that name a part of an incident rather than an incident: they belong to the
 * procedure of the heading above them (`## 🚨 CRITICAL…` › `### Symptoms`, `### Root Cause`).
 */
const SECTION_NAMES = new Set([
  'symptom',
  'symptoms',
  'signs',
  'signals',
  'detection',
  'how to detect',
  'indicators',
  'error',
  'errors',
  'error messages',
  'impact',
  'cause',
  'causes',
  'root cause',
  'root causes',
  'why',
  'diagnosis',
  'diagnostics',
  'diagnose',
  'immediate diagnosis',
  'investigation',
  'triage',
  'fix',
  'fixes',
  'the fix',
  'immediate fix',
  'quick fix',
  'permanent fix',
  'solution',
  'solutions',
  'resolution',
  'resolution steps',
  'remediation',
  'mitigation',
  'workaround',
  'workarounds',
  'response',
  'response steps',
  'immediate response',
  'immediate action',
  'immediate actions',
  'steps',
  'procedure',
  'recovery steps',
  'rollback steps',
  'prevention',
  'prevention steps',
  'preventive measures',
  'verification',
  'resolution verification',
  'verify',
  'verify the fix',
  'confirm',
  'confirmation',
  'validation',
  'notes',
]);

/** `When to Rollback`, `How to Investigate`: also parts of the procedure above. */
const SECTION_NAME_PATTERN =
  /^(when to|how to (investigate|diagnose|detect|fix|resolve|verify|prevent|recover))\b/;

export function isSectionName(headingText: string): boolean {
  const label = normalizeLabel(headingText);
  return SECTION_NAMES.has(label) || SECTION_NAME_PATTERN.test(label);
}

// Order matters: "prevention steps" is prevention, not steps; "resolution verification" is verify.
const CATEGORY_PATTERNS: Array<[LabelCategory, RegExp]> = [
  ['prevention', /^(prevent|preventive|how to prevent|avoid)/],
  ['verify', /^(verif|confirm|validat|resolution verification|success criteria)|(verification|validation)$/],
  [
    'symptoms',
    /^(symptoms?|signs?|signals?|detection|how to detect|indicators?|errors?|error messages?|impact|when to)\b/,
  ],
  ['rootCause', /^(root causes?|causes?|why)\b/],
  [
    'remediate',
    /^(fix|the fix|immediate fix|quick fix|permanent fix|solutions?|resolution|resolve|remediat|mitigat|workarounds?|response|immediate (actions?|response)|emergency (fix|response|actions?)|steps|recovery|manual recovery|roll ?back|repair|restore|option)\b|\bsteps$|\bfix(es)?$/,
  ],
  [
    'diagnose',
    /^(diagnos|investigat|how to investigate|triage|find|check|identify|assess|inspect|look|debug|analy)|\bdiagnos/,
  ],
];

export function labelCategory(text: string): LabelCategory {
  const label = normalizeLabel(text);
  return CATEGORY_PATTERNS.find(([, pattern]) => pattern.test(label))?.[0] ?? 'other';
}

/** A step whose own words say it confirms something: `Verify Recovery`, `Trigger Verification`. */
const VERIFY_LEAD =
  /^(verify|confirm|validate|ensure|double-check|re-?check)\b|\b(verification|validation)\b/i;
/**
 * A step that looks rather than acts: `Check Supabase Dashboard`, `Identify…`, `Health Check`,
 * and "Verify…" before anything was fixed.
 */
const DIAGNOSE_LEAD =
  /^(check|identify|find|investigat\w*|look|review|monitor|inspect|diagnos\w*|assess\w*|audit|determine|list|show|view|see|detect|test|verify|confirm|validate|ensure)\b|\b(check|diagnostics?|status|metrics|verification|validation)$/i;

/**
 * A step's role: what the author means it for. Whether it may run unattended is its kind
 * (check / action), never its role. From the label it is under and its own title (list item,
 * `--` comment):
 * - under a diagnosis label everything diagnoses (even a test INSERT);
 * - under a verification label checks and manual steps verify; so does any step titled
 *   "Verify…"/"…Validation" once something has been fixed (before that, "Verify connection
 *   pool status" is a look at the problem);
 * - a step titled like a look (`Check Storage Usage`, `Identify…`) diagnoses, even when it
 *   is an action because it calls a function the analyzer cannot prove read-only;
 * - otherwise checks diagnose and actions and manual steps remediate, except under symptom
 *   or cause prose, where everything diagnoses.
 */
export function stepRole(
  kind: 'check' | 'action' | 'manual',
  category: LabelCategory,
  lead: string | undefined,
  afterRemediation: boolean,
): 'diagnose' | 'remediate' | 'verify' {
  if (category === 'diagnose' || category === 'symptoms' || category === 'rootCause') return 'diagnose';
  if (kind !== 'action' && category === 'verify') return 'verify';
  if (afterRemediation && lead !== undefined && VERIFY_LEAD.test(lead)) return 'verify';
  if (kind === 'check' || (lead !== undefined && DIAGNOSE_LEAD.test(lead))) return 'diagnose';
  return 'remediate';
}
