-- Device channel overrides are read one by key per update check, never all
-- at once, so their number costs an update server nothing. override_seq
-- goes up in the same transaction as every override written, removed or
-- pruned: a server reads it with the app's revision and, when it moved,
-- forgets the app's cached overrides that changed (below). override_count
-- is the number of the app's overrides, kept with each write, so the
-- per-app cap is checked without counting rows.
ALTER TABLE apps ADD COLUMN override_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN override_count BIGINT NOT NULL DEFAULT 0;

-- Which overrides changed: a set stamps its row with the app's new
-- override_seq, so a server reads the few devices set since the sequence
-- it knows and forgets only those. A removal leaves no row to read, so
-- removals (and prunes) also raise override_cleared: a server then
-- forgets the app's cached overrides.
ALTER TABLE apps ADD COLUMN override_cleared BIGINT NOT NULL DEFAULT 0;
ALTER TABLE device_channels ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX device_channels_seq ON device_channels (app_id, seq);

-- Devices send their id in lower case (iOS's upper-case one is lowered):
-- overrides are stored and looked up that way. Of the rows of one device
-- the lower-case one stays, else the one set last (two spellings of it,
-- both lowered, would break the primary key).
DELETE FROM device_channels WHERE device_id <> lower(device_id)
    AND EXISTS (SELECT 1 FROM device_channels l WHERE l.app_id = device_channels.app_id
        AND lower(l.device_id) = lower(device_channels.device_id) AND l.device_id <> device_channels.device_id
        AND (l.device_id = lower(l.device_id) OR l.updated_at > device_channels.updated_at
            OR l.updated_at = device_channels.updated_at AND l.device_id > device_channels.device_id));
UPDATE device_channels SET device_id = lower(device_id) WHERE device_id <> lower(device_id);
UPDATE apps SET override_count = (SELECT COUNT(*) FROM device_channels d WHERE d.app_id = apps.id);

-- Stale overrides (not set or seen by their device for the expiry) are
-- pruned oldest first.
CREATE INDEX device_channels_updated ON device_channels (updated_at);
