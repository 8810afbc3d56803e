-- Up Migration
-- The audit log: every command, preview, approval, execution and verification, in one
-- hash chain (each row's hash covers the previous row's hash and its own content), so a
-- changed, removed or inserted row shows up in `runbook-bot audit verify`.
-- seq is assigned by the appender (last + 1 under an advisory lock), not by a sequence:
-- a sequence value consumed by a transaction that rolls back would leave a gap that
-- verify could not tell from a deleted row.
CREATE TABLE audit_events (
  seq bigint PRIMARY KEY CHECK (seq >= 1),
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  kind text NOT NULL,
  actor text NOT NULL,
  target text,
  run_id uuid,
  request_id uuid,
  incident_id uuid,
  data jsonb NOT NULL DEFAULT '{}',
  prev_hash text NOT NULL,
  hash text NOT NULL UNIQUE
);
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- Append-only, enforced by the database rather than by the code that uses it. A superuser
-- can still disable the trigger; the hash chain is what catches that.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_change
  BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
  BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- Where each event is mirrored in Slack and whether it got there: delivery state changes,
-- so it lives outside the immutable table.
CREATE TABLE audit_outbox (
  seq bigint PRIMARY KEY REFERENCES audit_events (seq),
  channel text NOT NULL,
  -- NULL: a top-level message in the channel (the run's root was not posted yet).
  thread_ts text,
  posted_ts text,
  posted_at timestamptz
);
-- "Unposted events of one thread, oldest first": coalesce so a NULL thread is indexable.
CREATE INDEX audit_outbox_unposted_idx ON audit_outbox (channel, (coalesce(thread_ts, '')), seq)
  WHERE posted_ts IS NULL;

-- Down Migration
DROP TABLE audit_outbox;
DROP TABLE audit_events;
DROP FUNCTION audit_events_append_only();
