-- Up Migration
-- Scheduled health checks remember what the last scheduled run of each target found, so a
-- persisting problem is posted once (and again as a daily reminder), a change is posted when
-- it happens, and the all clear once when it is over.

-- One row per target: where its scheduled runs stand.
CREATE TABLE scheduled_health_targets (
  target text PRIMARY KEY,
  -- The report of the last scheduled run taken into account; an older one arriving late is ignored.
  report_status text,
  last_started_at timestamptz,
  -- The scheduler fire (BullMQ job id) that was decided last, and what was decided: a retry
  -- of the same fire replays the decision instead of comparing the run with itself.
  last_fire text,
  last_decision jsonb,
  -- Set while a posted problem has not been followed by an all clear.
  problem_since timestamptz,
  last_posted_at timestamptz,
  last_run_id uuid REFERENCES runs (id) ON DELETE SET NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per target and check (and `reachability`): its status in the last scheduled run.
CREATE TABLE scheduled_health (
  target text NOT NULL REFERENCES scheduled_health_targets (target) ON DELETE CASCADE,
  check_id text NOT NULL,
  status text NOT NULL,
  summary text NOT NULL,
  -- When the check entered this status (kept while the status persists).
  first_seen timestamptz NOT NULL,
  last_seen timestamptz NOT NULL,
  PRIMARY KEY (target, check_id)
);

-- Down Migration
DROP TABLE scheduled_health;
DROP TABLE scheduled_health_targets;
