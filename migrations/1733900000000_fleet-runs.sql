-- Up Migration
-- A fleet run (`/runbook health all | tag:<t>`) as the state database knows it: its runs carry
-- no channel (the fleet posts one summary), so without this row a fleet whose job the queue
-- lost (Redis restarted empty, a job that stalled past its limit) was never swept again.
CREATE TABLE fleet_runs (
  -- The fleet's first run: its jobs are named after it (fleet-<id>, fleet-summary-<id>).
  id uuid PRIMARY KEY,
  run_ids uuid[] NOT NULL,
  channel_id text NOT NULL,
  label text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  summary_posted_at timestamptz,
  requeued_at timestamptz,
  requeue_count integer NOT NULL DEFAULT 0
);
CREATE INDEX fleet_runs_unposted_idx ON fleet_runs (created_at) WHERE summary_posted_at IS NULL;

-- Down Migration
DROP TABLE fleet_runs;
