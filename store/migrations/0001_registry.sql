-- The release registry. Times are Unix milliseconds, UTC. {{serial}} is the
-- dialect's auto-increment primary key (see store/registry_migrate.go).

CREATE TABLE apps (
    id              TEXT PRIMARY KEY,
    key_id          TEXT NOT NULL DEFAULT '',
    key_fingerprint TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL
);

CREATE TABLE releases (
    id              {{serial}},
    app_id          TEXT NOT NULL REFERENCES apps (id),
    version         TEXT NOT NULL,
    url             TEXT NOT NULL,
    session_key     TEXT NOT NULL,
    checksum        TEXT NOT NULL,
    size            BIGINT NOT NULL,
    sha256          TEXT NOT NULL,
    zip_sha256      TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,
    min_native      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    UNIQUE (app_id, version)
);

CREATE TABLE channels (
    id                   {{serial}},
    app_id               TEXT NOT NULL REFERENCES apps (id),
    name                 TEXT NOT NULL,
    release_id           BIGINT REFERENCES releases (id),
    previous_id          BIGINT REFERENCES releases (id),
    rollout              INTEGER NOT NULL DEFAULT 100 CHECK (rollout BETWEEN 0 AND 100),
    public               BOOLEAN NOT NULL DEFAULT FALSE,
    allow_self_set       BOOLEAN NOT NULL DEFAULT FALSE,
    ios                  BOOLEAN NOT NULL DEFAULT TRUE,
    android              BOOLEAN NOT NULL DEFAULT TRUE,
    electron             BOOLEAN NOT NULL DEFAULT TRUE,
    allow_emulator       BOOLEAN NOT NULL DEFAULT TRUE,
    allow_dev            BOOLEAN NOT NULL DEFAULT TRUE,
    disable_under_native BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at           BIGINT NOT NULL,
    UNIQUE (app_id, name)
);
CREATE INDEX channels_public ON channels (app_id) WHERE public;

-- What each channel pointed to and when. The register/promote entries not
-- rolled back form a stack whose top is the channel's current release.
CREATE TABLE channel_history (
    id             {{serial}},
    channel_id     BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    release_id     BIGINT NOT NULL REFERENCES releases (id),
    action         TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    rolled_back_at BIGINT
);
CREATE INDEX channel_history_channel ON channel_history (channel_id, id);

CREATE TABLE device_channels (
    app_id     TEXT NOT NULL REFERENCES apps (id),
    device_id  TEXT NOT NULL,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app_id, device_id)
);

CREATE TABLE device_events (
    id               {{serial}},
    app_id           TEXT NOT NULL REFERENCES apps (id),
    device_id        TEXT NOT NULL,
    action           TEXT NOT NULL,
    version_name     TEXT NOT NULL,
    old_version_name TEXT NOT NULL DEFAULT '',
    platform         TEXT NOT NULL DEFAULT '',
    plugin_version   TEXT NOT NULL DEFAULT '',
    version_build    TEXT NOT NULL DEFAULT '',
    is_emulator      BOOLEAN NOT NULL DEFAULT FALSE,
    is_prod          BOOLEAN NOT NULL DEFAULT TRUE,
    created_at       BIGINT NOT NULL
);
CREATE INDEX device_events_version ON device_events (app_id, version_name, action);
CREATE INDEX device_events_time ON device_events (app_id, created_at);

-- Admin API tokens: only the SHA-256 of the secret is kept.
CREATE TABLE admin_tokens (
    id           {{serial}},
    name         TEXT NOT NULL,
    app_id       TEXT NOT NULL DEFAULT '',
    hash         TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX admin_tokens_active_name ON admin_tokens (name) WHERE revoked_at IS NULL;
