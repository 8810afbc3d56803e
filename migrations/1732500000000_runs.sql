-- Up Migration
-- A run is one request to do something against a target (today: a health check). It is
-- written before the job is queued, so a lost queue never loses the request; the report is
-- written before it is posted, so a Slack outage only delays it.
CREATE TABLE runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind text NOT NULL CHECK (kind IN ('health')),
  target text NOT NULL,
  requested_by text NOT NULL,
  channel_id text,
  response_url text,
  -- One run per Slack request however often Slack retries it or the user double-submits.
  idempotency_key text UNIQUE,
  status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
  error text,
  report jsonb,
  report_status text,
  -- Set once the report is in Slack; a notifier retry after a crash sees it and stops.
  posted_ts text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  posted_at timestamptz
);
CREATE INDEX runs_created_at_idx ON runs (created_at DESC);

CREATE TABLE findings (
  run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  check_id text NOT NULL,
  status text NOT NULL,
  summary text NOT NULL,
  PRIMARY KEY (run_id, check_id)
);

-- Down Migration
DROP TABLE findings;
DROP TABLE runs;
