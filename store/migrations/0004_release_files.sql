-- A release's delta form (spec §6): every file of the bundle, which
-- devices fetch one by one at files_url || '/' || object when they lack
-- its content. file_count is len(release_files) of the release, kept on
-- the release so that listing releases and channels reads no file rows.
-- A release's files_url belongs to it alone, like its url: a later
-- release uploading objects into the same folder could overwrite them.
ALTER TABLE releases ADD COLUMN files_url TEXT NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN file_count INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX releases_files_url ON releases (files_url) WHERE files_url <> '';

CREATE TABLE release_files (
    release_id BIGINT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    file_hash  TEXT NOT NULL,
    object     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    brotli     BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (release_id, path)
);

-- Whether the channel sends releases with files as a manifest to plugins
-- that can take one (channel set NAME --delta=false forces the zip).
ALTER TABLE channels ADD COLUMN delta BOOLEAN NOT NULL DEFAULT TRUE;
