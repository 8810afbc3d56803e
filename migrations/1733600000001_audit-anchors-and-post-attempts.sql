-- Up Migration
-- Which function made each row's hash: 'sha256' (anyone can recompute it) or 'hmac-sha256'
-- (keyed with AUDIT_HMAC_KEY, which the database never holds). Rows written before the key
-- was set keep 'sha256' and still verify. Adding a column with a default rewrites no row,
-- so the append-only triggers are not involved.
ALTER TABLE audit_events
  ADD COLUMN hash_scheme text NOT NULL DEFAULT 'sha256' CHECK (hash_scheme IN ('sha256', 'hmac-sha256'));

-- Checkpoints of the chain head posted to Slack, outside the database: a copy there is what
-- shows a truncated or re-hashed chain. The rows here only pace the checkpointer and remember
-- where each one was posted; they are not trusted by `audit verify`.
CREATE TABLE audit_checkpoints (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_count bigint NOT NULL,
  head_hash text NOT NULL,
  line text NOT NULL,
  channel text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  posted_ts text,
  posted_at timestamptz
);

-- One row per Slack message the bot posts through postOnce: written before the post, so a
-- retry knows an earlier attempt may have reached Slack (and since when to look for it).
CREATE TABLE slack_post_attempts (
  post_key text PRIMARY KEY,
  first_started_at timestamptz NOT NULL DEFAULT now(),
  attempts integer NOT NULL DEFAULT 1,
  posted_ts text
);
CREATE INDEX slack_post_attempts_started_idx ON slack_post_attempts (first_started_at);

-- Down Migration
DROP TABLE slack_post_attempts;
DROP TABLE audit_checkpoints;
ALTER TABLE audit_events DROP COLUMN hash_scheme;
