-- An app's revision goes up in the same transaction as every change of
-- what its devices are served (register, promote, rollback, channel create
-- and set), so an update server can tell with a one-row read whether its
-- cached copy of the app is still current.
ALTER TABLE apps ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
