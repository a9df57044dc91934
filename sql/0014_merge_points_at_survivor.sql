-- One rule for following merges (issue #19): `users.merged_into` names the survivor itself, never a
-- user that was merged in turn, so a merged ID's person is always `coalesce(merged_into, id)` — one
-- hop, in SQL and in Swift (Sources/IdentityMap/Store/Person.swift). A merge repoints the users
-- already merged into the one it merges (path compression) and an unmerge restores them, each in
-- one transaction; this constraint trigger checks the rule when that transaction commits, so no
-- writer, ours or a hand-written UPDATE, can leave a chain behind.
-- Chains left by hand before this file (a merge made outside StableID) are compressed first, so
-- the rule holds for every row from now on.
DO $$
BEGIN
    LOOP
        UPDATE users u SET merged_into = s.merged_into
        FROM users s WHERE u.merged_into = s.id AND s.merged_into IS NOT NULL;
        EXIT WHEN NOT FOUND;
    END LOOP;
END;
$$;

CREATE FUNCTION stableid_merge_points_at_survivor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.merged_into IS NOT NULL AND EXISTS (
        SELECT 1 FROM users s WHERE s.id = NEW.merged_into AND s.merged_into IS NOT NULL
    ) THEN
        RAISE EXCEPTION 'user % is merged into %, which is merged itself: merges must point at the survivor',
            NEW.id, NEW.merged_into USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.merged_into IS NOT NULL AND EXISTS (SELECT 1 FROM users o WHERE o.merged_into = NEW.id) THEN
        RAISE EXCEPTION 'user % is merged while others still point at it: repoint them to the survivor', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER users_merge_points_at_survivor
    AFTER INSERT OR UPDATE OF merged_into ON users
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION stableid_merge_points_at_survivor();
