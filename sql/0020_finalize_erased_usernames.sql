-- An erasure (`stableid user forget`) no longer writes 'erased' over the username campaign
-- finalize gave the person in a target pool: it leaves NULL, which nobody can hold in Cognito.
-- 'erased' is a username anyone could take there, and `--resend` acts on whoever holds the
-- row's username. Rows without a username are never looked up, resent or resumed
-- (docs/OPERATIONS.md, Finalizing a campaign).
ALTER TABLE finalize_users ALTER COLUMN target_username DROP NOT NULL;
-- A row still being created needs its username: `--resume` asks the target pool for it. An
-- erasure holds such a row in the same statement that removes the username.
ALTER TABLE finalize_users ADD CONSTRAINT finalize_users_creating_username
    CHECK (target_username IS NOT NULL OR state <> 'creating');
-- Rows erased before this migration: 'erased' and an erasure naming the row's user (someone may
-- really be called 'erased').
UPDATE finalize_users r SET target_username = NULL
WHERE r.target_username = 'erased' AND r.state <> 'creating'
  AND EXISTS (SELECT 1 FROM events e WHERE e.kind = 'personal_data_erased' AND e.details->'users' ? r.user_id::text);
