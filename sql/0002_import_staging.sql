-- Staging for `stableid import`: pages or file chunks are COPYed here as they arrive (so memory
-- stays flat), then one transaction classifies and applies the whole run set-wise.
CREATE UNLOGGED TABLE import_staging (
    run_id             uuid NOT NULL,
    seq                bigint NOT NULL,
    sub                text NOT NULL,
    username           text NOT NULL,
    email              text,
    email_normalized   text,
    email_verified     boolean NOT NULL DEFAULT false,
    provider           text NOT NULL DEFAULT 'Cognito',
    enabled            boolean NOT NULL DEFAULT true,
    -- The stable ID a new user would get: the sub itself with --reuse-sub-as-user-id, else a UUIDv7.
    candidate_user_id  uuid
);
CREATE INDEX import_staging_run ON import_staging (run_id, sub, seq);
