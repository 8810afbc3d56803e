-- Up Migration
-- Each worker process records that it is alive every few seconds. A bot that sees no fresh
-- row knows no worker will take its jobs: /readyz says so, and commands say the work waits.
-- In the state database, so it works with either queue backend (Redis or Postgres).
CREATE TABLE worker_heartbeats (
  worker_id uuid PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  mode text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX worker_heartbeats_seen_idx ON worker_heartbeats (seen_at);

-- Down Migration
DROP TABLE worker_heartbeats;
