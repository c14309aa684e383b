-- The version of the learning records (issue 19): every write of records
-- (collection, import, any Store::apply) bumps it in the same transaction.
-- Results that depend on every record of an organisation (gamification)
-- are stored with the version they were computed from and are not served
-- once it moved on.
CREATE TABLE records_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO records_version (id, version) VALUES (1, 0);
ALTER TABLE analytics_results ADD COLUMN records_version BIGINT;
ALTER TABLE analytics_rollups ADD COLUMN records_version BIGINT;
