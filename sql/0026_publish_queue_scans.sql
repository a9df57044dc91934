-- Publishing at COMMIT read its transaction's queued rows by scanning the whole queue tables.
--
-- change_feed_pending, identity_change_pending and their two *_commit tables (sql/0007, sql/0022)
-- are queues: every publishing transaction inserts its rows and deletes them again at COMMIT, so
-- they are empty whenever VACUUM looks, and VACUUM records them as empty (relpages = 0,
-- reltuples = 0, after truncating them). The publish functions are PL/pgSQL: each server
-- connection plans their statements once and keeps the plan, and a plan made for an empty table
-- is a sequential scan. Between two autovacuum passes (a minute) every commit then read every
-- dead row left by every commit before it: at 400 links/s, ~55 pages of ~15,000 dead rows, four
-- times per commit — most of the database's CPU per link in `scripts/bench-triggers` (perf:
-- heapgetpage/heap_getnextslot under AfterTriggerFireDeferred).
--
-- Each queue is read through its index on txid (only the transaction's own rows: one leaf), and
-- a queue is moved in one statement (DELETE … RETURNING feeding the INSERT) instead of a read and
-- a delete. `enable_seqscan = off` is set on these functions only (it holds while they run):
-- nothing else about the plans changes, and the statements keep naming the index's column alone.

CREATE OR REPLACE FUNCTION stableid_publish_change_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stableid_publish_lock();
    -- Positions are taken in event-id order: the rows are inserted in the ORDER BY's order.
    WITH queued AS (
        DELETE FROM change_feed_pending WHERE txid = NEW.txid RETURNING event_id
    )
    INSERT INTO change_feed (event_id) SELECT event_id FROM queued ORDER BY event_id;
    IF FOUND THEN
        PERFORM pg_notify('stableid_changes', '');
    END IF;
    DELETE FROM change_feed_commit WHERE txid = NEW.txid;
    RETURN NULL;
END;
$$;
ALTER FUNCTION stableid_publish_change_feed() SET enable_seqscan = off;

CREATE OR REPLACE FUNCTION stableid_publish_identity_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stableid_publish_lock();
    WITH queued AS (
        DELETE FROM identity_change_pending WHERE txid = NEW.txid RETURNING pool_id, sub
    )
    INSERT INTO identity_changes (pool_id, sub) SELECT DISTINCT pool_id, sub FROM queued;
    IF FOUND THEN
        PERFORM pg_notify('stableid_identity_changes', '');
    END IF;
    DELETE FROM identity_change_commit WHERE txid = NEW.txid;
    RETURN NULL;
END;
$$;
ALTER FUNCTION stableid_publish_identity_changes() SET enable_seqscan = off;
