-- Up Migration
-- A procedure run is one `/runbook run`: the procedure as it was when asked for (a reload
-- never changes what a run shows or executes), its parameters and where it is posted.
CREATE TABLE procedure_runs (
  id uuid PRIMARY KEY,
  runbook_id text NOT NULL,
  procedure_id text NOT NULL,
  procedure jsonb NOT NULL,
  runbook_sha256 text NOT NULL,
  runbook_commit text,
  target text NOT NULL,
  requested_by text NOT NULL,
  channel_id text,
  params jsonb NOT NULL DEFAULT '{}',
  -- One run per Slack request however often Slack retries it.
  idempotency_key text UNIQUE,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  error text,
  -- The root message; every step is a reply in its thread.
  root_ts text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX procedure_runs_created_at_idx ON procedure_runs (created_at DESC);

-- One row per step of the run, in order: check results, and who ticked off manual steps.
CREATE TABLE procedure_steps (
  run_id uuid NOT NULL REFERENCES procedure_runs (id) ON DELETE CASCADE,
  step_id text NOT NULL,
  position int NOT NULL,
  kind text NOT NULL CHECK (kind IN ('check', 'action', 'manual')),
  -- pending until a check ran; ok/error for checks; shown for actions and manual steps.
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ok', 'error', 'shown')),
  result jsonb,
  -- Set once the step is in the thread; a notifier retry skips what is already there.
  posted_ts text,
  done_by text,
  done_at timestamptz,
  PRIMARY KEY (run_id, step_id),
  UNIQUE (run_id, position)
);

-- Down Migration
DROP TABLE procedure_steps;
DROP TABLE procedure_runs;
