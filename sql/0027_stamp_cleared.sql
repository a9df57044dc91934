-- `stableid stamp` also removes the attribute (AdminDeleteUserAttributes) from users it must not
-- name a person for: a value on a user the map does not hold, or holds unlinked, or whose person
-- is deleted; and a value on an inactive mapped user that is not its person's ID. A backend that
-- trusts the claim would otherwise hand such a user someone else's data (docs/OPERATIONS.md,
-- Stamping). Each removal is its own `stable_id_attribute_cleared` event, appended in one
-- transaction with `seen + 1` and `cleared + 1` here, so the run's `cleared` is always the number
-- of its `stable_id_attribute_cleared` events — as `changed` is of its `user_stamped` events.
--
-- Runs recorded before this migration removed nothing: their `cleared` is 0. A binary older than
-- this migration still runs against it (it never names the column; the default keeps the sum).
ALTER TABLE stamp_runs ADD COLUMN cleared bigint NOT NULL DEFAULT 0 CHECK (cleared >= 0);

-- seen = changed + cleared + skipped + unmapped + inactive + gone + failed, at every commit.
ALTER TABLE stamp_runs DROP CONSTRAINT stamp_runs_counts;
ALTER TABLE stamp_runs ADD CONSTRAINT stamp_runs_counts
    CHECK (seen = changed + cleared + skipped + unmapped + inactive + gone + failed);
