-- Campaign progress (issue #20): links into a campaign's target pool per UTC day and path, kept as
-- a daily rollup so `stableid campaign progress` and GET /v1/campaigns/{id}/progress read a few
-- hundred rows, never a scan of `identities` or `events` (docs/OPERATIONS.md, "Campaign progress").
--
-- The rollup is an exact materialized aggregate of the map, not a log of what happened:
--   links(campaign, day, via) = the identities with that campaign_id, in that campaign's target
--   pool, with status 'active', linked_at on that UTC day, and that via (NULL counts as 'manual':
--   no writer of StableID leaves a campaign's identity without a path; a hand-made row without
--   one was made by hand).
-- So unlinking an identity takes it out of the day it was linked, a relink puts it on the day of
-- the relink (the relink moves linked_at), and a hand UPDATE of linked_at, via, status, pool_id or
-- campaign_id moves it too. The curve is "identities active now, by the day they were linked".
--
-- Statement-level AFTER triggers with transition tables keep it so for every writer: the store's
-- row-at-a-time links, an import's INSERT … SELECT or COPY, set-wise status changes, merges, hand
-- UPDATEs and DELETEs. Each statement adds its net change per (campaign, day, via) — a merge
-- moves identities between users and nets to nothing, so it writes nothing — in one upsert.
--
-- Slots: the newest day of the busiest path is the one row every link of a campaign would update,
-- and a row lock is held to the end of its transaction. A statement writes into one of 8 slots
-- chosen by its backend (pg_backend_pid() % 8), so concurrent trigger transactions seldom wait on
-- each other; readers sum the slots. One slot may go below zero (a link counted in slot 3, its
-- unlink in slot 5): only the sum over the slots means anything, and it is never negative.

CREATE TABLE campaign_daily_links (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    day          date NOT NULL,
    via          text NOT NULL,
    slot         smallint NOT NULL CHECK (slot BETWEEN 0 AND 7),
    links        bigint NOT NULL,
    PRIMARY KEY (campaign_id, day, via, slot)
);

-- SECURITY DEFINER (the migration's owner), so the rollup changes only through the identities it
-- counts: the service role needs no write privilege on it, and a leaked service credential or an
-- injected statement can move the numbers only by changing the map itself, which the audit trail
-- records. A role that may write `identities` by hand (an operator as the owner) needs no grant
-- either. The search path is fixed to the catalog with pg_temp last, and every table is named with
-- its schema: a temporary table of the writer's named like ours can never stand in for it.
-- (A trigger function cannot be called directly, so the definer's rights serve only the triggers.)
-- Three INSERTs rather than one: a statement that names a transition table the event lacks (the
-- old rows of an INSERT) cannot even be planned.
CREATE FUNCTION stableid_campaign_links_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    my_slot smallint := (pg_backend_pid() % 8)::smallint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.campaign_daily_links AS r (campaign_id, day, via, slot, links)
        SELECT n.campaign_id, (n.linked_at AT TIME ZONE 'UTC')::date, coalesce(n.via, 'manual'), my_slot, count(*)
        FROM new_rows n JOIN public.campaigns c ON c.id = n.campaign_id AND c.target_pool = n.pool_id
        WHERE n.status = 'active'
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
        ON CONFLICT (campaign_id, day, via, slot) DO UPDATE SET links = r.links + EXCLUDED.links;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.campaign_daily_links AS r (campaign_id, day, via, slot, links)
        SELECT d.campaign_id, d.day, d.via, my_slot, sum(d.delta)
        FROM (
            SELECT n.campaign_id, (n.linked_at AT TIME ZONE 'UTC')::date AS day, coalesce(n.via, 'manual') AS via, 1 AS delta
            FROM new_rows n JOIN public.campaigns c ON c.id = n.campaign_id AND c.target_pool = n.pool_id
            WHERE n.status = 'active'
            UNION ALL
            SELECT o.campaign_id, (o.linked_at AT TIME ZONE 'UTC')::date, coalesce(o.via, 'manual'), -1
            FROM old_rows o JOIN public.campaigns c ON c.id = o.campaign_id AND c.target_pool = o.pool_id
            WHERE o.status = 'active'
        ) d
        GROUP BY d.campaign_id, d.day, d.via
        HAVING sum(d.delta) <> 0
        ORDER BY d.campaign_id, d.day, d.via
        ON CONFLICT (campaign_id, day, via, slot) DO UPDATE SET links = r.links + EXCLUDED.links;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO public.campaign_daily_links AS r (campaign_id, day, via, slot, links)
        SELECT o.campaign_id, (o.linked_at AT TIME ZONE 'UTC')::date, coalesce(o.via, 'manual'), my_slot, -count(*)
        FROM old_rows o JOIN public.campaigns c ON c.id = o.campaign_id AND c.target_pool = o.pool_id
        WHERE o.status = 'active'
        GROUP BY 1, 2, 3
        ORDER BY 1, 2, 3
        ON CONFLICT (campaign_id, day, via, slot) DO UPDATE SET links = r.links + EXCLUDED.links;
    ELSE
        -- TRUNCATE identities: nothing is left to count.
        DELETE FROM public.campaign_daily_links;
    END IF;
    RETURN NULL;
END;
$$;

-- (PostgreSQL allows transition tables only on single-event triggers: one trigger per event.)
CREATE TRIGGER identities_campaign_links_insert AFTER INSERT ON identities
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stableid_campaign_links_changed();
CREATE TRIGGER identities_campaign_links_update AFTER UPDATE ON identities
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stableid_campaign_links_changed();
CREATE TRIGGER identities_campaign_links_delete AFTER DELETE ON identities
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION stableid_campaign_links_changed();
CREATE TRIGGER identities_campaign_links_truncate AFTER TRUNCATE ON identities
    FOR EACH STATEMENT EXECUTE FUNCTION stableid_campaign_links_changed();

-- What is counted depends on the campaign's target pool, so it never changes (StableID never
-- changes it; a hand UPDATE would leave every count of the campaign wrong).
CREATE FUNCTION stableid_campaign_target_is_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the target pool of campaign % cannot change: its progress is counted in that pool', OLD.id
        USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER campaigns_target_is_fixed BEFORE UPDATE OF target_pool ON campaigns
    FOR EACH ROW WHEN (NEW.target_pool IS DISTINCT FROM OLD.target_pool)
    EXECUTE FUNCTION stableid_campaign_target_is_fixed();

-- The identities that exist already. The triggers above were created first in this transaction,
-- and CREATE TRIGGER holds a lock that keeps every writer of `identities` out until it commits:
-- no link can fall between this count and the triggers.
INSERT INTO campaign_daily_links (campaign_id, day, via, slot, links)
SELECT i.campaign_id, (i.linked_at AT TIME ZONE 'UTC')::date, coalesce(i.via, 'manual'), 0, count(*)
FROM identities i JOIN campaigns c ON c.id = i.campaign_id AND c.target_pool = i.pool_id
WHERE i.status = 'active'
GROUP BY 1, 2, 3;

-- The remaining count from a reconciliation run is its unmigrated count less the campaign's links
-- since the run: those are counted here (an index-only scan over the few days since the run).
CREATE INDEX identities_campaign_linked ON identities (campaign_id, linked_at) INCLUDE (pool_id, status)
    WHERE campaign_id IS NOT NULL;

-- The service reads the rollup (progress); it never writes it (the triggers do, as the owner).
GRANT SELECT ON campaign_daily_links TO stableid_service;
