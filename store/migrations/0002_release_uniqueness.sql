-- A release's encrypted file and its URL belong to that release alone: the
-- same ciphertext under another version or app would be a replay, and a URL
-- reused by a later release would stop serving the earlier one (which
-- rollback needs).
CREATE UNIQUE INDEX releases_sha256 ON releases (sha256);
CREATE UNIQUE INDEX releases_url ON releases (url);
