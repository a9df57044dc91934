-- `stableid stamp` (Sources/UserMigration/Stamp/): writes each mapped user's stable ID into a custom
-- attribute of a pool with AdminUpdateUserAttributes, so that ID tokens carry it without a trigger.
-- At Cognito's AdminUpdateUserAttributes quota (25/s) a pool of a million users takes about eleven
-- hours, so a run is resumable: it reads the pool with ListUsers, and once every user of a page is
-- handled it records the PaginationToken of the page that follows with the page's counts (one
-- transaction). `stableid stamp --resume` continues from there (docs/OPERATIONS.md, Stamping).
--
-- Each user changed is its own `user_stamped` event, appended in one transaction with `seen + 1`
-- and `changed + 1` here, so the run's `changed` is always the number of its `user_stamped`
-- events; the page's other counts come with its token. The Cognito write comes first: a run killed
-- between a write and its transaction leaves that user written and unrecorded, and the resumed run
-- finds the attribute right and counts it `skipped`.
CREATE TABLE stamp_runs (
    id           uuid PRIMARY KEY,
    pool_id      text NOT NULL REFERENCES pools (id),
    attribute    text NOT NULL CHECK (attribute ~ '^custom:.+$'),
    state        text NOT NULL CHECK (state IN ('running', 'stopped', 'failed', 'completed', 'abandoned')),
    -- The token of the page after the last one fully handled. NULL: from the first page, unless
    -- `listed` says every page was handled.
    next_token   text,
    listed       boolean NOT NULL DEFAULT false,
    pages        integer NOT NULL DEFAULT 0 CHECK (pages >= 0),
    -- seen = changed + skipped + unmapped + inactive + gone + failed, at every commit.
    seen         bigint NOT NULL DEFAULT 0 CHECK (seen >= 0),
    changed      bigint NOT NULL DEFAULT 0 CHECK (changed >= 0),
    skipped      bigint NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    unmapped     bigint NOT NULL DEFAULT 0 CHECK (unmapped >= 0),
    inactive     bigint NOT NULL DEFAULT 0 CHECK (inactive >= 0),
    gone         bigint NOT NULL DEFAULT 0 CHECK (gone >= 0),
    failed       bigint NOT NULL DEFAULT 0 CHECK (failed >= 0),
    -- Why a run stopped: an AWS error type or a code of stamp's own, never a message.
    last_error   text CHECK (last_error ~ '^[A-Za-z0-9_.:-]{1,80}$'),
    started_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    CONSTRAINT stamp_runs_finished CHECK ((state IN ('completed', 'abandoned')) = (finished_at IS NOT NULL)),
    CONSTRAINT stamp_runs_counts CHECK (seen = changed + skipped + unmapped + inactive + gone + failed)
);
-- At most one run of a pool left to resume: a run started without --resume abandons the others.
-- (One run of a pool at a time is a session advisory lock, held for the whole run.)
CREATE UNIQUE INDEX stamp_runs_open ON stamp_runs (pool_id) WHERE state IN ('running', 'stopped', 'failed');
CREATE INDEX stamp_runs_pool ON stamp_runs (pool_id, started_at DESC);

-- `stableid stamp` may run as the service role. Rows are never deleted.
GRANT SELECT, INSERT, UPDATE ON stamp_runs TO stableid_service;
