-- StableID identity map: pools, users, identities, the event log, API tokens, idempotency keys.
-- Forward-only: never edit this file once applied; add 0002_… instead (`stableid db migrate`
-- refuses to run when an applied file's checksum changed).

CREATE TABLE pools (
    id          text PRIMARY KEY CHECK (id ~ '^[a-z]{2}(-[a-z]+)+-[0-9]+_[0-9A-Za-z]+$'),
    region      text NOT NULL,
    name        text,
    -- The `iss` claim of the pool's tokens; resolve-by-issuer looks pools up by it.
    issuer      text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id           uuid PRIMARY KEY,
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged', 'deleted')),
    -- Always points at an active survivor: merges re-point earlier merges (path compression).
    merged_into  uuid REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_merged_has_target CHECK ((status = 'merged') = (merged_into IS NOT NULL)),
    CONSTRAINT users_not_merged_into_self CHECK (merged_into <> id)
);
CREATE INDEX users_merged_into ON users (merged_into) WHERE merged_into IS NOT NULL;

CREATE TABLE identities (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES users (id),
    pool_id           text NOT NULL REFERENCES pools (id),
    sub               text NOT NULL CHECK (sub <> ''),
    username          text NOT NULL CHECK (username <> ''),
    email             text,
    -- NFKC + lower-case form used for matching; see EmailAddress.normalize.
    email_normalized  text,
    email_verified    boolean NOT NULL DEFAULT false,
    provider          text NOT NULL DEFAULT 'Cognito',
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'deleted', 'unlinked')),
    linked_at         timestamptz NOT NULL DEFAULT now(),
    unlinked_at       timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT identities_pool_sub UNIQUE (pool_id, sub)
);
-- Cognito usernames are unique within a pool among existing users; a deleted user's name may be
-- reused by a new user (new sub), and an unlinked identity no longer claims it.
CREATE UNIQUE INDEX identities_pool_username ON identities (pool_id, username) WHERE status IN ('active', 'disabled');
CREATE INDEX identities_user ON identities (user_id);
CREATE INDEX identities_email ON identities (email_normalized) WHERE email_normalized IS NOT NULL;

-- One row per change, written in the same transaction as the change. Append-only.
CREATE TABLE events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor        text NOT NULL,
    kind         text NOT NULL,
    user_id      uuid,
    pool_id      text,
    sub          text,
    -- Non-personal facts only; personal fields go to event_personal_data so they can be erased.
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id   text
);
CREATE INDEX events_user ON events (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX events_pool_sub ON events (pool_id, sub, id) WHERE pool_id IS NOT NULL;
CREATE INDEX events_kind ON events (kind, id);

-- Personal data (usernames, emails) mentioned by an event; deletable for erasure requests.
CREATE TABLE event_personal_data (
    event_id  bigint PRIMARY KEY REFERENCES events (id),
    data      jsonb NOT NULL
);

CREATE FUNCTION stableid_reject_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only (% rejected)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER events_append_only_rows BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION stableid_reject_event_change();
CREATE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION stableid_reject_event_change();

CREATE TABLE api_tokens (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
    -- SHA-256 of the token; the token itself is shown once and never stored.
    token_hash  bytea NOT NULL UNIQUE,
    scopes      text[] NOT NULL CHECK (scopes <@ ARRAY['resolve', 'write', 'audit', 'trigger', 'admin'] AND cardinality(scopes) > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE UNIQUE INDEX api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- Idempotency-Key records: the first answer to a write, replayed for retries with the same key.
CREATE TABLE idempotency_keys (
    token_id         uuid NOT NULL REFERENCES api_tokens (id),
    key              text NOT NULL,
    request_hash     bytea NOT NULL,
    response_status  integer,
    response_body    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_id, key)
);
