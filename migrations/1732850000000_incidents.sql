-- Up Migration
-- An incident: declared in Slack, worked in its own channel, whose root message's thread is
-- its audit trail. Runs started in that channel belong to it, so their previews, approvals
-- and executions are on its timeline.
CREATE TABLE incidents (
  id uuid PRIMARY KEY,
  number serial UNIQUE,
  title text NOT NULL,
  severity text NOT NULL CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
  declared_by text NOT NULL,
  commander text NOT NULL,
  -- Where the command was typed; the incident's own channel once created.
  origin_channel text NOT NULL,
  channel_id text,
  root_ts text,
  declared_at timestamptz NOT NULL DEFAULT now(),
  acknowledged_at timestamptz,
  resolved_at timestamptz,
  status_text text,
  summary text,
  target text,
  suggested_procedures text[] NOT NULL DEFAULT '{}',
  -- The best-matching procedure's root cause and prevention, for the report draft.
  matched_procedure jsonb,
  idempotency_key text UNIQUE
);
CREATE UNIQUE INDEX incidents_open_channel_idx ON incidents (channel_id) WHERE status = 'open';

ALTER TABLE procedure_runs ADD COLUMN incident_id uuid REFERENCES incidents (id);

-- Down Migration
ALTER TABLE procedure_runs DROP COLUMN incident_id;
DROP TABLE incidents;
