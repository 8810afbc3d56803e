-- Up Migration
-- A run asked for in Slack whose job the queue lost (Redis restarted empty, a bot stopped
-- between recording and queueing) or whose report did not reach Slack within the job's
-- retries is queued again by the workers' recovery sweep. requeued_at and requeue_count pace
-- the sweep; posting_by and posting_until (a lease) keep two jobs from posting one report.
ALTER TABLE runs
  ADD COLUMN requeued_at timestamptz,
  ADD COLUMN requeue_count integer NOT NULL DEFAULT 0,
  ADD COLUMN posting_by uuid,
  ADD COLUMN posting_until timestamptz;
-- What the sweep reads: runs with a channel to post to that are not posted yet.
CREATE INDEX runs_unposted_idx ON runs (created_at)
  WHERE posted_ts IS NULL AND channel_id IS NOT NULL AND status <> 'failed';

-- Down Migration
DROP INDEX runs_unposted_idx;
ALTER TABLE runs DROP COLUMN posting_until, DROP COLUMN posting_by, DROP COLUMN requeue_count, DROP COLUMN requeued_at;
