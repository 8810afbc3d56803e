-- Up Migration
-- Opening an incident in Slack is a job that may be retried: each of its steps records that
-- it happened, the announcement in the channel it was declared in too.
ALTER TABLE incidents ADD COLUMN announced_at timestamptz;
-- An incident's timeline reads its own events, those of runs started in its channel, and
-- those runs: by these columns.
CREATE INDEX audit_events_incident_id_idx ON audit_events (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX audit_events_run_id_idx ON audit_events (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX procedure_runs_incident_id_idx ON procedure_runs (incident_id) WHERE incident_id IS NOT NULL;

-- Down Migration
DROP INDEX procedure_runs_incident_id_idx;
DROP INDEX audit_events_run_id_idx;
DROP INDEX audit_events_incident_id_idx;
ALTER TABLE incidents DROP COLUMN announced_at;
