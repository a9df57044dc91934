-- Campaigns over a subset of the source users (data sovereignty: only the users of some countries
-- move into a pool in another region), sign-ins recorded in the target, and a verified clean-up
-- of the source pools (`stableid campaign cleanup`). docs/OPERATIONS.md, "A campaign over a
-- subset of users" and "Cleaning up the source pools".

-- The subset, fixed when the campaign is made: `{"only": [{"attribute": "custom:country",
-- "values": ["DE", "FR"]}, …], "members": {"usernames": n, "subs": n}}` — every condition must
-- hold (a user's attribute equal to one of the values, compared exactly), and when `members` is
-- there the user must also be listed in campaign_subset_members. NULL: every source user.
-- Judged by UserMigration's CampaignSubset from the source user's attributes at each decision
-- (the Migrate-user trigger: AdminGetUser; reconciliation: the snapshot; finalize and clean-up:
-- AdminGetUser).
ALTER TABLE campaigns ADD COLUMN subset jsonb CHECK (subset IS NULL OR jsonb_typeof(subset) = 'object');

-- `campaign create --only-file`: the source users of the subset, one row per line of the file. A
-- `username` key is compared exactly with the source username; a `sub` key (a UUID, lower case)
-- with the sub, or with a username that is that UUID (pools that sign in by email give users UUID
-- usernames). `pool_id` NULL: the key names a user of any source pool of the campaign (the file's
-- line had no pool); else only that pool's. Usernames are personal data: an erasure deletes the
-- person's rows; events keep only the counts.
CREATE TABLE campaign_subset_members (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id),
    pool_id      text REFERENCES pools (id),
    key_kind     text NOT NULL CHECK (key_kind IN ('username', 'sub')),
    key          text NOT NULL CHECK (key <> '' AND octet_length(key) <= 512),
    CONSTRAINT campaign_subset_members_sub CHECK (key_kind <> 'sub' OR key ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
);
CREATE UNIQUE INDEX campaign_subset_members_key ON campaign_subset_members (campaign_id, key, coalesce(pool_id, ''));

-- Whether each staged source user meets the campaign's attribute conditions, judged when it is
-- staged (the snapshot keeps no other attributes). NULL: the scope has no conditions.
ALTER TABLE reconcile_snapshot ADD COLUMN subset_match boolean;

-- A subset member whose person is linked in the target pool of another campaign: a case for a
-- person (moved elsewhere, or in two subsets), neither unmigrated nor finalized.
ALTER TABLE findings DROP CONSTRAINT findings_kind_check;
ALTER TABLE findings ADD CONSTRAINT findings_kind_check
    CHECK (kind IN ('unmigrated', 'migrated_elsewhere', 'unmapped', 'orphaned', 'duplicate', 'conflict', 'stale'));

-- Sign-ins seen by the triggers of a pool (post-authentication at once; pre token generation a
-- few seconds later, from memory, at most once an hour per identity and server): what the
-- clean-up asks before it touches a source user. A table of its own rather than columns of
-- `identities`: a sign-in is no change of the map, so it must not wake the change feed, the
-- lookup caches or the progress rollup's triggers, nor move `updated_at` (which reconciliation
-- compares with its snapshots). Written only through IdentityMap's IdentitySetWrites.
CREATE TABLE identity_sign_ins (
    identity_id         bigint PRIMARY KEY REFERENCES identities (id),
    first_signed_in_at  timestamptz NOT NULL,
    last_signed_in_at   timestamptz NOT NULL,
    CONSTRAINT identity_sign_ins_order CHECK (last_signed_in_at >= first_signed_in_at)
);

-- The source users `stableid campaign cleanup --apply` disables or deletes: the durable record
-- that makes a run killed at any point resumable without touching anyone twice. A row is written
-- 'cleaning' before AdminDisableUser / AdminDeleteUser; the identity's new status (with its
-- `identity_status_changed` event) and 'done' are written in one transaction after it. `--resume`
-- asks the source pool about each row still 'cleaning' (AdminGetUser) before anything else.
CREATE TABLE cleanup_users (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id),
    -- The source identity (its pool and sub, kept with it: identities are never removed).
    identity_id  bigint NOT NULL REFERENCES identities (id),
    user_id      uuid NOT NULL REFERENCES users (id),
    pool_id      text NOT NULL REFERENCES pools (id),
    sub          text NOT NULL CHECK (sub <> ''),
    mode         text NOT NULL CHECK (mode IN ('disable', 'delete')),
    state        text NOT NULL CHECK (state IN ('cleaning', 'done', 'failed')),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- A code (an AWS error type, or one of the clean-up's own), never a message.
    last_error   text CHECK (last_error ~ '^[A-Za-z0-9_.:-]{1,80}$'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, identity_id)
);
CREATE INDEX cleanup_users_state ON cleanup_users (campaign_id, state);

-- The Migrate-user trigger reads the members; an erasure deletes a person's. The triggers record
-- sign-ins. `stableid campaign cleanup` may run as the service role. Cleanup rows are never
-- deleted (they hold no personal data).
GRANT SELECT, DELETE ON campaign_subset_members TO stableid_service;
GRANT SELECT, INSERT, UPDATE ON identity_sign_ins, cleanup_users TO stableid_service;
