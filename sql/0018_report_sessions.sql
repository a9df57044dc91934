-- Sessions of the report pages (`/report/…`, Sources/IdentityMap/Sessions/ReportSessionStore.swift;
-- issue #20). An auditor signs in once with a token of scope `audit` through a form, and the
-- browser then carries a session cookie instead of the token: the token never sits in a URL, a
-- bookmark or a browser's history, and a session is narrower than the token (it only reads the
-- report pages, and it ends after hours, at sign-out or when its token is revoked).
--
-- Only the SHA-256 of the 32 random bytes in the cookie is kept (`id_hash`): whoever reads this
-- table cannot use a session. `csrf_secret` keys the CSRF tokens of the session's forms
-- (HMAC-SHA-256 of the form's purpose); it never leaves the server. A session is used only while
-- its token is not revoked (`api_tokens.revoked_at`, checked on every request), before
-- `expires_at` (8 hours after sign-in), within 30 minutes of `last_seen_at` and before
-- `signed_out_at`. Housekeeping deletes rows past any of those, so the service role keeps DELETE
-- here (see sql/0013 for the tables it may delete from).
CREATE TABLE report_sessions (
    id_hash       bytea PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    token_id      uuid NOT NULL REFERENCES api_tokens (id),
    csrf_secret   bytea NOT NULL CHECK (octet_length(csrf_secret) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    signed_out_at timestamptz
);
-- Housekeeping's purge, and a revocation's sessions (read through the join on every use).
CREATE INDEX report_sessions_expires_at ON report_sessions (expires_at);
CREATE INDEX report_sessions_token_id ON report_sessions (token_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON report_sessions TO stableid_service;
