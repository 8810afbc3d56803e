-- Up Migration
-- An approved request whose execution window passed before a worker started it ends
-- `lapsed`: a final state, so it is never left "approved" with nothing coming.
ALTER TABLE action_requests DROP CONSTRAINT action_requests_status_check;
ALTER TABLE action_requests ADD CONSTRAINT action_requests_status_check CHECK (status IN (
  'previewed', 'pending', 'approved', 'rejected', 'expired', 'lapsed',
  'executing', 'succeeded', 'failed', 'aborted', 'changed', 'outcome_unknown'));
-- What the recovery sweep reads: requests waiting on a job (approved: execution; pending: expiry).
CREATE INDEX action_requests_waiting_idx ON action_requests (updated_at) WHERE status IN ('approved', 'pending');

-- Refused clicks are audited, but a person clicking the same refused button twenty times is
-- one story, not twenty events. The audit log is append-only and hash-chained, so a count
-- cannot be raised in place: this table, outside the chain, counts the repeats of the last
-- refusal appended for (request, person, reason), and they are appended as one event with
-- their count when the next one comes after the window or when the sweep finds them quiet.
CREATE TABLE refusal_repeats (
  request_id uuid NOT NULL,
  actor text NOT NULL,
  reason text NOT NULL,
  target text,
  run_id uuid,
  mirror_channel text,
  mirror_thread_ts text,
  -- The last audit event of this refusal, when it was appended, and repeats not in the chain yet.
  logged_seq bigint NOT NULL,
  logged_at timestamptz NOT NULL,
  unlogged integer NOT NULL DEFAULT 0,
  PRIMARY KEY (request_id, actor, reason)
);
CREATE INDEX refusal_repeats_unlogged_idx ON refusal_repeats (logged_at) WHERE unlogged > 0;

-- Down Migration
DROP TABLE refusal_repeats;
DROP INDEX action_requests_waiting_idx;
UPDATE action_requests SET status = 'expired' WHERE status = 'lapsed';
ALTER TABLE action_requests DROP CONSTRAINT action_requests_status_check;
ALTER TABLE action_requests ADD CONSTRAINT action_requests_status_check CHECK (status IN (
  'previewed', 'pending', 'approved', 'rejected', 'expired',
  'executing', 'succeeded', 'failed', 'aborted', 'changed', 'outcome_unknown'));
