-- Reconciliation (DESIGN §6): runs, the snapshot a run classifies, and the findings that persist
-- across runs (first seen, last seen, resolved when a later run of the same scope no longer sees
-- them, or acknowledged by an operator).

-- One row per `stableid reconcile`. `scope` names what the run covers: `campaign:<id>` (its source
-- and target pools) or `pools:<id>,<id>` (sorted) for a run without a campaign. Findings are kept
-- per scope, so a run only opens and resolves findings of its own scope.
CREATE TABLE reconcile_runs (
    id           uuid PRIMARY KEY,
    scope        text NOT NULL CHECK (scope ~ '^(campaign|pools):'),
    campaign_id  uuid REFERENCES campaigns (id),
    pools        text[] NOT NULL CHECK (cardinality(pools) > 0),
    -- 'file' when any pool was read from a file (the weaker evidence), else 'live'.
    source       text NOT NULL CHECK (source IN ('live', 'file')),
    actor        text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    status       text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed', 'failed')),
    -- {pool: users scanned}
    scanned      jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- {kind: n}: open findings after the run, findings opened (or reopened), findings resolved.
    counts       jsonb NOT NULL DEFAULT '{}'::jsonb,
    opened       jsonb NOT NULL DEFAULT '{}'::jsonb,
    resolved     jsonb NOT NULL DEFAULT '{}'::jsonb,
    warnings     jsonb NOT NULL DEFAULT '[]'::jsonb,
    -- Why a failed run failed: our own text, never a bind value or a libpq message with data.
    error        text,
    CONSTRAINT reconcile_runs_finished CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX reconcile_runs_scope ON reconcile_runs (scope, id);

-- The users a run read from Cognito (or a file), COPYed in batches as they arrive so memory
-- stays flat; classified set-wise against the map, then deleted when the run ends, whether it
-- succeeded or failed (housekeeping removes what a killed run left). Unlogged: a crash loses
-- only a snapshot that the next run takes afresh.
CREATE UNLOGGED TABLE reconcile_snapshot (
    run_id            uuid NOT NULL,
    pool_id           text NOT NULL,
    seq               bigint NOT NULL,
    sub               text NOT NULL,
    username          text NOT NULL,
    email             text,
    -- EmailAddress.normalize (NFKC + lower case); NULL when the email is not an address.
    email_normalized  text,
    email_verified    boolean NOT NULL DEFAULT false,
    enabled           boolean NOT NULL DEFAULT true,
    -- Cognito's UserStatus (CONFIRMED, FORCE_CHANGE_PASSWORD, EXTERNAL_PROVIDER, …).
    user_status       text NOT NULL DEFAULT 'UNKNOWN',
    provider          text NOT NULL DEFAULT 'Cognito',
    -- The person's id at a federated provider (from the `identities` attribute).
    provider_user_id  text,
    -- The value of the scope's stable-ID attribute (custom:stable_id) on this user.
    stable_id_attr    text
);
CREATE INDEX reconcile_snapshot_run ON reconcile_snapshot (run_id, pool_id, sub);

-- One row per (kind, subject) per scope. The subject is a stable key per kind: `pool/sub`,
-- `user:<id>`, `user:<id>/<pool>`, `email:<sha-256 of the normalized address>` or
-- `federated:<provider>:<user id>` — never a readable email, because findings outlive runs.
CREATE TABLE findings (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('unmigrated', 'unmapped', 'orphaned', 'duplicate', 'conflict', 'stale')),
    subject          text NOT NULL CHECK (subject <> ''),
    scope            text NOT NULL CHECK (scope ~ '^(campaign|pools):'),
    campaign_id      uuid REFERENCES campaigns (id),
    pool_id          text REFERENCES pools (id),
    sub              text,
    user_id          uuid,
    state            text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved', 'acknowledged')),
    first_seen_run   uuid NOT NULL REFERENCES reconcile_runs (id),
    last_seen_run    uuid NOT NULL REFERENCES reconcile_runs (id),
    first_seen_at    timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    resolved_at      timestamptz,
    -- An acknowledgement: who, why, and until when (past `ack_until` the finding counts as open).
    ack_by           text,
    ack_reason       text CHECK (char_length(ack_reason) <= 500),
    ack_until        timestamptz,
    acknowledged_at  timestamptz,
    -- What the run saw (the rule's reason and the facts it used); no emails or usernames.
    evidence         jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT findings_key UNIQUE (kind, subject, scope),
    CONSTRAINT findings_resolved_at CHECK ((state = 'resolved') = (resolved_at IS NOT NULL)),
    CONSTRAINT findings_ack CHECK (state <> 'acknowledged' OR (ack_by IS NOT NULL AND acknowledged_at IS NOT NULL))
);
CREATE INDEX findings_scope_state ON findings (scope, state, kind);
CREATE INDEX findings_state_kind ON findings (state, kind, id);
CREATE INDEX findings_pool_sub ON findings (pool_id, sub) WHERE sub IS NOT NULL;
CREATE INDEX findings_user ON findings (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX findings_campaign ON findings (campaign_id, id) WHERE campaign_id IS NOT NULL;

-- The service lists and acknowledges findings; `stableid reconcile` may run as the service role.
GRANT SELECT, INSERT, UPDATE, DELETE ON reconcile_runs, reconcile_snapshot, findings TO stableid_service;
GRANT USAGE, SELECT ON SEQUENCE findings_id_seq TO stableid_service;
