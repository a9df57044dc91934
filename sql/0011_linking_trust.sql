-- Linking by trust (docs/SECURITY.md). What a new target sub may be linked on depends on two facts
-- of the target pool, read from Cognito when a campaign is made and again at every reconciliation:
-- whether anyone can sign up (AdminCreateUserConfig.AllowAdminCreateUserOnly false, Cognito's
-- default), and which app clients can write the stable-ID attribute (WriteAttributes unset means
-- every attribute). NULL means not read (no permission, or a campaign older than this file): the
-- triggers then assume the unsafe case, self sign-up on and the attribute writable.
ALTER TABLE campaigns
    ADD COLUMN target_self_sign_up     boolean,
    -- The app clients that can write the stable-ID attribute (empty: none can).
    ADD COLUMN target_attribute_writers text[],
    -- Whether users sign in by email (UsernameAttributes): the email is then unique in the pool.
    ADD COLUMN target_sign_in_by_email boolean,
    ADD COLUMN target_facts_read_at    timestamptz,
    -- Why the facts could not be read (a Cognito error type, never a secret).
    ADD COLUMN target_facts_problem    text CHECK (char_length(target_facts_problem) <= 200),
    -- A source user protected by MFA passes the password check with a challenge, not a result:
    -- migrated RESET_REQUIRED (Cognito then makes them prove their email or phone) or refused.
    ADD COLUMN mfa_users               text NOT NULL DEFAULT 'reset' CHECK (mfa_users IN ('reset', 'refuse'));

-- A reconciliation run (as the service role, from cron) records the facts it read.
GRANT UPDATE (target_self_sign_up, target_attribute_writers, target_sign_in_by_email, target_facts_read_at, target_facts_problem)
    ON campaigns
    TO stableid_service;
