-- The change feed that keeps every server's in-memory read model of the identity map fresh
-- (Sources/LookupCache, docs/ARCHITECTURE.md "The read model").
--
-- Every change that can alter a lookup's answer leaves the affected (pool_id, sub) in
-- identity_changes. Followers read the log in id order and re-read the named identities.
--
-- Ids are taken at COMMIT, not when a statement runs. A sequence hands out numbers in call order,
-- but transactions become visible in commit order, so a follower that has seen id N cannot know
-- whether a smaller id is still to come. Were ids taken when a statement runs, a bulk import that
-- commits a minute after its INSERT would publish ids older than everything committed meanwhile,
-- and a follower would have to keep that hole open for as long as any transaction might run.
-- Here the statement-level triggers only collect keys in identity_change_pending, and a deferred
-- constraint trigger, fired once per transaction at COMMIT, moves them into identity_changes
-- (and sends one NOTIFY, so commits that publish take NOTIFY's commit-queue lock; that
-- serialises only their final commit step). A hole in the ids is then a
-- transaction between that trigger and the end of its commit (a WAL flush, a synchronous
-- standby's answer): milliseconds, which is what lets followers give up on a hole after a short,
-- fixed time (LookupCache.Configuration.maxGapAge).
--
-- Rows:  pool_id + sub   that identity's answer may have changed (inserted, updated, moved to
--                        another user, unlinked, deleted, or its user's status changed);
--        pool_id only    the pool's row changed (a new pool, another issuer): reload pools;
--        neither         everything changed (TRUNCATE): followers warm up again.

CREATE TABLE identity_changes (
    id          bigserial PRIMARY KEY,
    pool_id     text,
    sub         text,
    -- When the change was published (its commit, give or take a WAL flush): feed lag is measured
    -- from here, and pruning keeps what is younger than the retention.
    changed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT identity_changes_sub_needs_pool CHECK (sub IS NULL OR pool_id IS NOT NULL)
);
CREATE INDEX identity_changes_changed_at ON identity_changes (changed_at);

-- The highest id pruning has removed: a follower whose position is below it may have missed
-- changes (it was disconnected for longer than the retention) and warms up again.
CREATE TABLE identity_change_horizon (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    pruned_through  bigint NOT NULL DEFAULT 0
);
INSERT INTO identity_change_horizon DEFAULT VALUES;

-- Keys collected by the transaction that is running; emptied by its own COMMIT. Unlogged: the
-- rows never outlive their transaction, so they need neither WAL nor a replica copy. Keyed by
-- transaction, so a commit reads and deletes its own rows by index instead of scanning past the
-- dead rows of every other commit since the last vacuum.
CREATE UNLOGGED TABLE identity_change_pending (
    txid     xid8 NOT NULL DEFAULT pg_current_xact_id(),
    pool_id  text,
    sub      text
);
CREATE INDEX identity_change_pending_txid ON identity_change_pending (txid);

-- One row per transaction with pending keys; its deferred trigger publishes them at COMMIT.
CREATE UNLOGGED TABLE identity_change_commit (
    txid  xid8 PRIMARY KEY DEFAULT pg_current_xact_id()
);

CREATE FUNCTION stableid_arm_identity_change_publish() RETURNS void LANGUAGE sql AS $$
    INSERT INTO identity_change_commit DEFAULT VALUES ON CONFLICT DO NOTHING
$$;

-- At COMMIT: the transaction's keys, once each, with ids taken now; one NOTIFY wakes followers
-- that can LISTEN (a hot standby cannot; its followers poll).
CREATE FUNCTION stableid_publish_identity_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO identity_changes (pool_id, sub)
    SELECT DISTINCT pool_id, sub FROM identity_change_pending WHERE txid = NEW.txid;
    IF FOUND THEN
        PERFORM pg_notify('stableid_identity_changes', '');
    END IF;
    DELETE FROM identity_change_pending WHERE txid = NEW.txid;
    DELETE FROM identity_change_commit WHERE txid = NEW.txid;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER identity_change_commit_publish AFTER INSERT ON identity_change_commit
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION stableid_publish_identity_changes();

-- Statement-level with transition tables, so a bulk import costs one INSERT … SELECT here, not a
-- trigger call per row. An UPDATE logs the old key too, in case the key itself changed.
-- (PostgreSQL allows transition tables only on single-event triggers: hence one trigger per event.)
CREATE FUNCTION stableid_identities_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO identity_change_pending (pool_id, sub) SELECT pool_id, sub FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO identity_change_pending (pool_id, sub)
        SELECT pool_id, sub FROM new_rows UNION SELECT pool_id, sub FROM old_rows;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO identity_change_pending (pool_id, sub) SELECT pool_id, sub FROM old_rows;
    ELSE
        INSERT INTO identity_change_pending (pool_id, sub) VALUES (NULL, NULL);
    END IF;
    IF FOUND THEN
        PERFORM stableid_arm_identity_change_publish();
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER identities_change_feed_insert AFTER INSERT ON identities
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stableid_identities_changed();
CREATE TRIGGER identities_change_feed_update AFTER UPDATE ON identities
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stableid_identities_changed();
CREATE TRIGGER identities_change_feed_delete AFTER DELETE ON identities
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stableid_identities_changed();
CREATE TRIGGER identities_change_feed_truncate AFTER TRUNCATE ON identities
    FOR EACH STATEMENT EXECUTE FUNCTION stableid_identities_changed();

-- A user's status is part of every answer about its identities. (A column list, UPDATE OF status,
-- cannot be combined with transition tables, so the filter is in the function.)
CREATE FUNCTION stableid_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO identity_change_pending (pool_id, sub)
        SELECT i.pool_id, i.sub
        FROM new_rows n JOIN old_rows o ON o.id = n.id JOIN identities i ON i.user_id = n.id
        WHERE (n.status, n.merged_into) IS DISTINCT FROM (o.status, o.merged_into);
    ELSE
        INSERT INTO identity_change_pending (pool_id, sub) VALUES (NULL, NULL);
    END IF;
    IF FOUND THEN
        PERFORM stableid_arm_identity_change_publish();
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER users_change_feed_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stableid_users_changed();
CREATE TRIGGER users_change_feed_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION stableid_users_changed();

-- Resolving by issuer needs issuer → pool; pools are few, so a row trigger is enough.
CREATE FUNCTION stableid_pools_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO identity_change_pending (pool_id, sub) VALUES (NULL, NULL);
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO identity_change_pending (pool_id, sub) VALUES (NEW.id, NULL);
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO identity_change_pending (pool_id, sub) VALUES (OLD.id, NULL);
    ELSIF (NEW.id, NEW.issuer) IS DISTINCT FROM (OLD.id, OLD.issuer) THEN
        INSERT INTO identity_change_pending (pool_id, sub) VALUES (NEW.id, NULL), (OLD.id, NULL);
    ELSE
        RETURN NULL;
    END IF;
    PERFORM stableid_arm_identity_change_publish();
    RETURN NULL;
END;
$$;
CREATE TRIGGER pools_change_feed AFTER INSERT OR UPDATE OR DELETE ON pools
    FOR EACH ROW EXECUTE FUNCTION stableid_pools_changed();
CREATE TRIGGER pools_change_feed_truncate AFTER TRUNCATE ON pools
    FOR EACH STATEMENT EXECUTE FUNCTION stableid_pools_changed();

-- Emptying the log by hand must not look like "nothing was missed" to a follower behind it.
CREATE FUNCTION stableid_identity_changes_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE identity_change_horizon
    SET pruned_through = GREATEST(pruned_through, (SELECT last_value FROM identity_changes_id_seq));
    RETURN NULL;
END;
$$;
CREATE TRIGGER identity_changes_truncate AFTER TRUNCATE ON identity_changes
    FOR EACH STATEMENT EXECUTE FUNCTION stableid_identity_changes_truncated();

-- The triggers run with the privileges of the role whose write fired them (the service), so it
-- may add to the log; it reads the log (followers) and prunes it (housekeeping).
GRANT SELECT, INSERT, DELETE ON identity_changes TO stableid_service;
GRANT USAGE ON SEQUENCE identity_changes_id_seq TO stableid_service;
GRANT SELECT, UPDATE ON identity_change_horizon TO stableid_service;
GRANT SELECT, INSERT, DELETE ON identity_change_pending, identity_change_commit TO stableid_service;
