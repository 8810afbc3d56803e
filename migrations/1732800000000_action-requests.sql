-- Up Migration
-- An action request is one Action step of a procedure run on its way from preview to
-- execution. Its status only moves forward, by conditional UPDATEs, so however many
-- clicks, retries and workers race, one of them wins each transition: the row is the
-- at-most-once guard, and its id is the execution job's id.
CREATE TABLE action_requests (
  id uuid PRIMARY KEY,
  run_id uuid NOT NULL REFERENCES procedure_runs (id),
  step_id text NOT NULL,
  target text NOT NULL,
  risk text NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
  -- What will be sent, and the values bound to it; the plan as previewed and its hash.
  sql text NOT NULL,
  params jsonb NOT NULL,
  plan jsonb NOT NULL,
  plan_hash text NOT NULL,
  previewed_by text NOT NULL,
  requested_by text,
  required_approvals int NOT NULL DEFAULT 1 CHECK (required_approvals >= 1),
  status text NOT NULL DEFAULT 'previewed' CHECK (status IN (
    'previewed', 'pending', 'approved', 'rejected', 'expired',
    'executing', 'succeeded', 'failed', 'aborted', 'changed', 'outcome_unknown')),
  expires_at timestamptz,
  approved_at timestamptz,
  execute_by timestamptz,
  -- The approval card in the run's thread, whose buttons are replaced by the outcome.
  card_channel text,
  card_ts text,
  outcome jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX action_requests_run_idx ON action_requests (run_id);

-- One approval per person per request: a double click or a Slack retry adds nothing.
CREATE TABLE approvals (
  request_id uuid NOT NULL REFERENCES action_requests (id),
  approver text NOT NULL,
  approved_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (request_id, approver)
);

-- Down Migration
DROP TABLE approvals;
DROP TABLE action_requests;
