-- Up Migration
-- Each procedure schedule's last results, so a scheduled run is posted only when they changed.
CREATE TABLE scheduled_procedures (
  schedule_id text PRIMARY KEY,
  -- The run last compared, and what was decided for it: a retry of that run replays it.
  last_run_id uuid NOT NULL,
  last_decision jsonb NOT NULL,
  -- check step id → { status, rows } (see schedules/scheduledProcedureDecision.ts)
  fingerprints jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE scheduled_procedures;
