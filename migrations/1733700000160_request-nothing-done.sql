-- Up Migration
-- An execution that changed nothing (0 rows, no backend left to signal, an IF EXISTS whose
-- object had gone) ends `nothing_done`, not `succeeded`: a final state of its own.
ALTER TABLE action_requests DROP CONSTRAINT action_requests_status_check;
ALTER TABLE action_requests ADD CONSTRAINT action_requests_status_check CHECK (status IN (
  'previewed', 'pending', 'approved', 'rejected', 'expired', 'lapsed',
  'executing', 'succeeded', 'nothing_done', 'failed', 'aborted', 'changed', 'outcome_unknown'));

-- Down Migration
UPDATE action_requests SET status = 'succeeded' WHERE status = 'nothing_done';
ALTER TABLE action_requests DROP CONSTRAINT action_requests_status_check;
ALTER TABLE action_requests ADD CONSTRAINT action_requests_status_check CHECK (status IN (
  'previewed', 'pending', 'approved', 'rejected', 'expired', 'lapsed',
  'executing', 'succeeded', 'failed', 'aborted', 'changed', 'outcome_unknown'));
