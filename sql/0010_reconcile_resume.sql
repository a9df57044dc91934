-- Resumable live snapshots (Sources/Reconciliation/ReconciliationRun+Resume.swift). Reading a pool
-- of a million users at Cognito's ListUsers quota takes about nine minutes, and a run that lost
-- the network or its credentials halfway, or was killed, used to start again from the first page.
-- A live run now records after every page the ListUsers token of the page that follows, in the
-- transaction that COPYs the page into `reconcile_snapshot`: the rows staged and the token saved
-- can never disagree, so `stableid reconcile --resume` continues exactly where the snapshot stops.

-- One row per pool of a live run, written with the pool's first page. File runs have none: a file
-- is read again in seconds. Logged although the snapshot is not: after a crash of the server,
-- which empties unlogged tables, a resume finds the rows gone that a row here accounts for and
-- reads those pools again rather than trusting a token past them.
CREATE TABLE reconcile_progress (
    run_id            uuid NOT NULL REFERENCES reconcile_runs (id) ON DELETE CASCADE,
    pool_id           text NOT NULL,
    -- When the pool's snapshot started (database time): a resumed run judges the map against the
    -- first read of the pool, not against the resume.
    started           timestamptz NOT NULL,
    -- The token of the next page to read; NULL once the pool is complete.
    pagination_token  text,
    -- Users read so far, including those left out for a sub that is no UUID.
    staged            integer NOT NULL DEFAULT 0,
    -- Of those, the ones left out (counted here, not derived from the rows: an erasure may
    -- delete staged rows of the person it forgets).
    left_out          integer NOT NULL DEFAULT 0,
    complete          boolean NOT NULL DEFAULT false,
    -- The last page staged: a run killed while reading keeps its snapshot a day after it stopped,
    -- not a day after it started (housekeeping).
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, pool_id)
);

-- The stable-ID attribute a run staged its users with. A run without a campaign takes it from the
-- command line, and the scope key does not name it: a resumed run must stage its remaining users
-- the same way, so the run records it. NULL for runs before this migration, and for runs without one.
ALTER TABLE reconcile_runs ADD COLUMN stable_id_attribute text;

-- `stableid reconcile` may run as the service role, and the service's housekeeping removes what
-- runs left behind.
GRANT SELECT, INSERT, UPDATE, DELETE ON reconcile_progress TO stableid_service;
