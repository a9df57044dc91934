-- The people `stableid campaign finalize --mode invite|passwordless` creates in a campaign's
-- target pool: the durable record that lets a run killed at any point be resumed without creating
-- anyone twice. A row is written 'creating' (with the username it will use) before
-- AdminCreateUser is called; the new target identity is linked in the map and the row set
-- 'created' in one transaction. A run that finds a row still 'creating' asks the target pool for
-- that username before creating anything (docs/OPERATIONS.md, Finalizing a campaign).
CREATE TABLE finalize_users (
    campaign_id      uuid NOT NULL REFERENCES campaigns (id),
    -- The person (the survivor when the row was written).
    user_id          uuid NOT NULL REFERENCES users (id),
    -- The source identity whose attributes the target user was made from.
    source_pool      text NOT NULL REFERENCES pools (id),
    source_sub       text NOT NULL CHECK (source_sub <> ''),
    mode             text NOT NULL CHECK (mode IN ('invite', 'passwordless')),
    state            text NOT NULL CHECK (state IN ('creating', 'created', 'held', 'failed')),
    -- The username sent to AdminCreateUser (the source username, or the email or phone number of a
    -- target that signs in by them): personal data, scrubbed by an erasure.
    target_username  text NOT NULL CHECK (target_username <> ''),
    target_sub       text,
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- A code (an AWS error type, or one of finalize's own), never a message: messages may quote
    -- attribute values.
    last_error       text CHECK (last_error ~ '^[A-Za-z0-9_.:-]{1,80}$'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- When Cognito was asked to send the invitation (invite mode), and to send it again (--resend).
    invited_at       timestamptz,
    resent_at        timestamptz,
    PRIMARY KEY (campaign_id, user_id),
    CONSTRAINT finalize_users_created_sub CHECK (state <> 'created' OR target_sub IS NOT NULL)
);
CREATE INDEX finalize_users_state ON finalize_users (campaign_id, state);
-- The Migrate-user trigger asks by person whether finalize is creating or created them.
CREATE INDEX finalize_users_user ON finalize_users (user_id);

-- The service's Migrate-user trigger reads it; `stableid campaign finalize` may run as the service
-- role. Rows are never deleted (an erasure overwrites the username).
GRANT SELECT, INSERT, UPDATE ON finalize_users TO stableid_service;
