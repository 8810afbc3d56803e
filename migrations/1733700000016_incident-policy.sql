-- Up Migration
-- What the incident's runbook says about severities (its severity table and milestones),
-- copied when it is declared: workers time and word the incident without the runbook
-- library, and a runbook edited mid-incident does not move its targets.
ALTER TABLE incidents ADD COLUMN runbook_policy jsonb;
-- When a pager (PagerDuty, Opsgenie) was first triggered for it: resolving it resolves the
-- page only then.
ALTER TABLE incidents ADD COLUMN paged_at timestamptz;

-- Down Migration
ALTER TABLE incidents DROP COLUMN paged_at;
ALTER TABLE incidents DROP COLUMN runbook_policy;
