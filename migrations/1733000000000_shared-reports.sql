-- Up Migration
-- Commands that arrive together share one health check (the coalescer); they now share its
-- stored report too. Each run used to write its own copy: under a burst, a thousand copies
-- of the same ~50 kB document, written and read back one by one.
CREATE TABLE health_reports (
  id uuid PRIMARY KEY,
  target text NOT NULL,
  status text NOT NULL,
  report jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX health_reports_target_created_at_idx ON health_reports (target, created_at DESC);

CREATE TABLE report_findings (
  report_id uuid NOT NULL REFERENCES health_reports (id) ON DELETE CASCADE,
  check_id text NOT NULL,
  status text NOT NULL,
  summary text NOT NULL,
  PRIMARY KEY (report_id, check_id)
);

ALTER TABLE runs ADD COLUMN report_id uuid REFERENCES health_reports (id);
CREATE INDEX runs_report_id_idx ON runs (report_id);

-- Existing runs keep their reports: each becomes a shared report of its own (id = run id).
INSERT INTO health_reports (id, target, status, report, created_at)
  SELECT id, target, coalesce(report_status, report->>'status', 'error'), report, coalesce(finished_at, created_at)
    FROM runs WHERE report IS NOT NULL;
UPDATE runs SET report_id = id WHERE report IS NOT NULL;
INSERT INTO report_findings (report_id, check_id, status, summary)
  SELECT f.run_id, f.check_id, f.status, f.summary FROM findings f JOIN runs r ON r.id = f.run_id
   WHERE r.report_id IS NOT NULL;
DROP TABLE findings;
ALTER TABLE runs DROP COLUMN report;

-- Down Migration
ALTER TABLE runs ADD COLUMN report jsonb;
UPDATE runs r SET report = h.report FROM health_reports h WHERE h.id = r.report_id;
CREATE TABLE findings (
  run_id uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  check_id text NOT NULL,
  status text NOT NULL,
  summary text NOT NULL,
  PRIMARY KEY (run_id, check_id)
);
INSERT INTO findings (run_id, check_id, status, summary)
  SELECT r.id, f.check_id, f.status, f.summary FROM runs r JOIN report_findings f ON f.report_id = r.report_id;
ALTER TABLE runs DROP COLUMN report_id;
DROP TABLE report_findings;
DROP TABLE health_reports;
