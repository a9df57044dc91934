-- Campaigns (a migration from one or more source pools into a target pool), how each link was
-- made, per-pool AWS access, and the pending links the Migrate-user trigger leaves for the
-- post-authentication/confirmation triggers to complete.

-- Per-pool AWS access: a pool in another account or region is read with a role to assume
-- (its external id guards against the confused deputy) or a named profile of the shared files.
ALTER TABLE pools
    -- (PostgreSQL regexes repeat at most 255 times: lengths are checked apart.)
    ADD COLUMN role_arn    text CHECK (role_arn ~ '^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$' AND char_length(role_arn) <= 600),
    ADD COLUMN external_id text CHECK (external_id ~ '^[A-Za-z0-9+=,.@:/_-]+$' AND char_length(external_id) BETWEEN 2 AND 1224),
    ADD COLUMN aws_profile text CHECK (aws_profile ~ '^[A-Za-z0-9_.-]{1,64}$'),
    ADD CONSTRAINT pools_external_id_needs_role CHECK (external_id IS NULL OR role_arn IS NOT NULL);

CREATE TABLE campaigns (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,127}$'),
    target_pool          text NOT NULL REFERENCES pools (id),
    phase                text NOT NULL DEFAULT 'lazy' CHECK (phase IN ('lazy', 'finalizing', 'done')),
    -- The custom attribute of the target pool that carries the stable ID (custom:stable_id).
    stable_id_attribute  text CHECK (stable_id_attribute ~ '^custom:[A-Za-z0-9_]{1,20}$'),
    -- How a new target sub finds its person when nothing better does: same username, the
    -- target's email as a source username (pools that sign in by email), or the same verified email.
    link_by              text[] NOT NULL DEFAULT ARRAY['username']
                         CHECK (link_by <@ ARRAY['username', 'email', 'verified-email'] AND cardinality(link_by) > 0),
    created_at           timestamptz NOT NULL DEFAULT now(),
    phase_changed_at     timestamptz NOT NULL DEFAULT now()
);
-- A target pool is in at most one campaign that is not done.
CREATE UNIQUE INDEX campaigns_active_target ON campaigns (target_pool) WHERE phase <> 'done';

CREATE TABLE campaign_sources (
    campaign_id    uuid NOT NULL REFERENCES campaigns (id),
    pool_id        text NOT NULL REFERENCES pools (id),
    position       integer NOT NULL,
    -- App client of the source pool used for the password check of lazy migration
    -- (ADMIN_USER_PASSWORD_AUTH). Its secret, when it has one, is needed for SECRET_HASH.
    client_id      text CHECK (client_id ~ '^[A-Za-z0-9_+]{1,128}$'),
    client_secret  text,
    PRIMARY KEY (campaign_id, pool_id),
    UNIQUE (campaign_id, position)
);

-- How each link was made, and in which campaign (progress and audits by path).
ALTER TABLE identities
    ADD COLUMN via         text CHECK (via IN ('import', 'lazy', 'forgot-password', 'post-confirmation', 'social', 'invite', 'manual')),
    ADD COLUMN campaign_id uuid REFERENCES campaigns (id),
    -- The federated provider's own user id (from the `identities` attribute), to find the same
    -- Google/Apple/… account in another pool.
    ADD COLUMN federated_user_id text;
CREATE INDEX identities_federated ON identities (provider, federated_user_id) WHERE federated_user_id IS NOT NULL;
CREATE INDEX identities_username ON identities (lower(username));

-- Left by a successful Migrate-user trigger, keyed by what the user signed in with: the next
-- post-authentication (or confirmation) of that username (or email) in the target pool links
-- its new sub to this user.
CREATE TABLE pending_links (
    target_pool  text NOT NULL REFERENCES pools (id),
    username     text NOT NULL,
    user_id      uuid NOT NULL REFERENCES users (id),
    campaign_id  uuid NOT NULL REFERENCES campaigns (id),
    via          text NOT NULL CHECK (via IN ('lazy', 'forgot-password')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_pool, username)
);
CREATE INDEX pending_links_lower_username ON pending_links (target_pool, lower(username));

-- The service reads campaigns (created by the CLI as the owner) and keeps pending links.
GRANT SELECT ON campaigns, campaign_sources TO stableid_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON pending_links TO stableid_service;
