-- Up Migration
-- A request's card and a thread's audit mirror are posted to Slack under a lease, not under
-- a row or advisory lock held through the Slack call: no state-database transaction ever
-- waits on Slack (a lock held that long starves the connection pool under a click storm).
-- card_lease_by/card_lease_until: the card job rendering the card now; card_dirty: another
-- job found it busy after a change, so the holder renders once more before letting go.
ALTER TABLE action_requests
  ADD COLUMN card_lease_by text,
  ADD COLUMN card_lease_until timestamptz,
  ADD COLUMN card_dirty boolean NOT NULL DEFAULT false;
-- posting_by/posting_until: the mirror job posting this event now.
ALTER TABLE audit_outbox
  ADD COLUMN posting_by text,
  ADD COLUMN posting_until timestamptz;

-- Down Migration
ALTER TABLE audit_outbox DROP COLUMN posting_until, DROP COLUMN posting_by;
ALTER TABLE action_requests DROP COLUMN card_dirty, DROP COLUMN card_lease_until, DROP COLUMN card_lease_by;
