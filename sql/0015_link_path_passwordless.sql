-- A link path of its own for users the finalize step of a campaign creates in the target pool
-- without a password (`stableid campaign finalize --mode passwordless`): they sign in by one-time
-- code or passkey, and progress counts them apart from invitations.
ALTER TABLE identities DROP CONSTRAINT identities_via_check;
ALTER TABLE identities ADD CONSTRAINT identities_via_check
    CHECK (via IN ('import', 'lazy', 'forgot-password', 'post-confirmation', 'social', 'invite', 'manual', 'passwordless'));
