-- The change feed for backends (`GET /v1/changes`, Sources/ChangeFeed, docs/ARCHITECTURE.md
-- "The change feed"): the audit events a backend acts on — identities linked, unlinked, moved,
-- disabled, enabled, deleted; people merged, unmerged, erased — in commit order.
--
-- One truth: the feed holds no facts of its own, only the ids of events, in the order their
-- transactions committed. Readers join `events` for what happened (never event_personal_data).
--
-- Ids are taken at COMMIT, as in sql/0007 and for the same reason: a sequence hands out numbers
-- in call order but transactions become visible in commit order, so with ids taken when an event
-- is inserted, a long import would publish ids older than everything committed meanwhile and a
-- reader could never tell a hole that is still to come from one that never will. Here an AFTER
-- INSERT trigger on `events` only queues the relevant event ids in change_feed_pending (unlogged),
-- and a deferred constraint trigger, once per transaction at COMMIT, moves them into change_feed
-- in event-id order (ids taken now) and sends one NOTIFY. A hole in change_feed's ids is then a
-- transaction between that trigger and the end of its commit (milliseconds), or one that failed
-- right there: a reader that sees one waits briefly and then treats it as empty (ChangeFeed's
-- GapRule), so the order is the commit order and nothing is skipped.
--
-- Nothing is backfilled: a consumer starts at the end of the feed (GET /v1/changes without
-- `after` answers the end), so history before this migration is the audit trail's alone.

CREATE TABLE change_feed (
    -- The position a consumer's cursor names.
    id            bigserial PRIMARY KEY,
    event_id      bigint NOT NULL REFERENCES events (id),
    -- When the change was published (its commit, give or take a WAL flush), on the primary's
    -- clock: the gap rule and the publish-lag metric measure from here, pruning keeps what is
    -- younger than the retention.
    published_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX change_feed_published_at ON change_feed (published_at);

-- The highest position pruning has removed: a cursor below it missed changes (410
-- `cursor_expired`), one at or above it did not.
CREATE TABLE change_feed_horizon (
    only_row        boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    pruned_through  bigint NOT NULL DEFAULT 0
);
INSERT INTO change_feed_horizon DEFAULT VALUES;

-- Event ids queued by the running transaction; emptied by its own COMMIT. Unlogged and keyed by
-- transaction, as identity_change_pending (sql/0007).
CREATE UNLOGGED TABLE change_feed_pending (
    txid      xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id  bigint NOT NULL
);
CREATE INDEX change_feed_pending_txid ON change_feed_pending (txid);

-- One row per transaction with queued events; its deferred trigger publishes them at COMMIT.
CREATE UNLOGGED TABLE change_feed_commit (
    txid  xid8 PRIMARY KEY DEFAULT pg_current_xact_id()
);

-- Positions are handed out one publishing transaction at a time: each publish takes this
-- transaction-level advisory lock first and keeps it to the end of its commit, so a transaction's
-- positions are contiguous and come before every later commit's. Without it a small commit could
-- take a position in the middle of a large import's (which inserts its rows for seconds) and
-- become visible first; readers, who give up on a hole after a few seconds, would then skip the
-- import's changes below it for good. A hole is now only a transaction that took positions and
-- then did not commit. The identity change log of sql/0007 takes the same lock (below), for the
-- same reason, so a transaction publishing both takes it once. Commits that publish already
-- queue behind one another for NOTIFY; this only moves the start of that queue to the publish.
CREATE FUNCTION stableid_publish_lock() RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(7274171022)
$$;

-- At COMMIT: the transaction's events in id order, positions taken now; one NOTIFY wakes the
-- servers' listeners (a hot standby cannot LISTEN; read there, waiting polls).
CREATE FUNCTION stableid_publish_change_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stableid_publish_lock();
    INSERT INTO change_feed (event_id)
    SELECT event_id FROM change_feed_pending WHERE txid = NEW.txid ORDER BY event_id;
    IF FOUND THEN
        PERFORM pg_notify('stableid_changes', '');
    END IF;
    DELETE FROM change_feed_pending WHERE txid = NEW.txid;
    DELETE FROM change_feed_commit WHERE txid = NEW.txid;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE FUNCTION stableid_publish_identity_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stableid_publish_lock();
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

CREATE CONSTRAINT TRIGGER change_feed_commit_publish AFTER INSERT ON change_feed_commit
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION stableid_publish_change_feed();

-- Statement-level with a transition table: a bulk append (an import's identity_linked events,
-- one per identity, EventLog.appendAll) costs one INSERT … SELECT here, not a call per event.
-- The kinds are the ones ChangeFeed's ChangeDerivation.sourceKinds names; a test holds the two
-- lists equal.
CREATE FUNCTION stableid_events_to_change_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO change_feed_pending (event_id)
    SELECT id FROM new_rows
    WHERE kind IN ('identity_linked', 'identity_unlinked', 'identity_status_changed',
                   'user_merged', 'user_unmerged', 'personal_data_erased');
    IF FOUND THEN
        INSERT INTO change_feed_commit DEFAULT VALUES ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_change_feed AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stableid_events_to_change_feed();

-- Emptying the feed by hand must not look like "nothing was missed" to a consumer behind it.
CREATE FUNCTION stableid_change_feed_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_feed_horizon
    SET pruned_through = GREATEST(pruned_through, (SELECT last_value FROM change_feed_id_seq));
    RETURN NULL;
END;
$$;
CREATE TRIGGER change_feed_truncate AFTER TRUNCATE ON change_feed
    FOR EACH STATEMENT EXECUTE FUNCTION stableid_change_feed_truncated();

-- The triggers run with the privileges of the role whose write fired them (the service), so it
-- may add to the feed; it reads the feed (GET /v1/changes) and prunes it (housekeeping).
GRANT SELECT, INSERT, DELETE ON change_feed TO stableid_service;
GRANT USAGE, SELECT ON SEQUENCE change_feed_id_seq TO stableid_service;
GRANT SELECT, UPDATE ON change_feed_horizon TO stableid_service;
GRANT SELECT, INSERT, DELETE ON change_feed_pending, change_feed_commit TO stableid_service;

-- The scope a backend's feed token carries (`changes`, and nothing else if that is all it reads).
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scopes_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scopes_check
    CHECK (scopes <@ ARRAY['resolve', 'write', 'merge', 'audit', 'trigger', 'changes', 'admin'] AND cardinality(scopes) > 0);
