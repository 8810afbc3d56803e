-- Up Migration
-- The built-in health checks related to a run's procedure (decided when the run was recorded,
-- see runbooks/relatedHealthChecks.ts), and what they found on its target (null until they ran).
ALTER TABLE procedure_runs
  ADD COLUMN related_checks jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN related_findings jsonb;

-- Down Migration
ALTER TABLE procedure_runs DROP COLUMN related_checks, DROP COLUMN related_findings;
