-- Up Migration
-- Declaring an incident takes in what its channel saw in the hour before: the health checks
-- run there (their findings are what broke) as well as the procedure runs (their fixes).
ALTER TABLE runs ADD COLUMN incident_id uuid REFERENCES incidents (id);
CREATE INDEX runs_incident_id_idx ON runs (incident_id) WHERE incident_id IS NOT NULL;

-- Down Migration
DROP INDEX runs_incident_id_idx;
ALTER TABLE runs DROP COLUMN incident_id;
