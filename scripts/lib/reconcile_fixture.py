#!/usr/bin/env python3
"""Synthetic source and target pools for scripts/bench-reconcile, the map they are compared with,
and what a reconciliation of them must find. Standard library only; scripts/lib/throttled_cognito.py
serves the same users over ListUsers.

User i (0 <= i < n) is `user{i}` in both pools, source sub 5ca1ab1e-0000-4000-8000-{i:012d},
target sub 7a26e700-0000-4000-8000-{i:012d}, email user{i}@example.com (verified).

The map: the clean source pool imported from a file with --reuse-sub-as-user-id (so user i's person
id is its source sub), plus a target identity (via 'lazy', as the Migrate-user trigger links it) for
every user who migrated, written by `target-map-sql`. The pools then differ from the map:

  i % 10   == 0   never migrated: no target identity                   -> unmigrated (10%)
  i % 200  == 7   deleted from the source pool                          -> orphaned   (0.5%)
  i % 200  == 11  changed email in the source pool                      -> stale      (0.5%)
  i % 100  == 3   the target user (and its identity) has user{i+1}'s
                  verified email                                         -> duplicate  (1%)
  i % 200  == 50  signed up afresh in the target, not in the map,
                  with the source user's verified email                  -> unmapped + duplicate (0.5%)
  i % 1000 == 5   the target's custom:stable_id names user{i+1}'s person -> conflict   (0.1%)

Every other migrated target user carries its own person in custom:stable_id (as finalize writes it).

    reconcile_fixture.py write source-map|source|target N PATH   list-users JSON, pages of 60
    reconcile_fixture.py expected N                              {"counts": {...}, "scanned": {...}}
    reconcile_fixture.py target-map-sql N TARGET CAMPAIGN        the INSERT of the target identities
"""
import datetime, json, sys

PAGE = 60
SOURCE_PREFIX = "5ca1ab1e-0000-4000-8000-"
TARGET_PREFIX = "7a26e700-0000-4000-8000-"
CREATED = 1_700_000_000  # user i was created at this epoch second + i
KINDS = ("unmigrated", "unmapped", "orphaned", "duplicate", "conflict", "stale")


def source_sub(i):
    return f"{SOURCE_PREFIX}{i:012d}"


def target_sub(i):
    return f"{TARGET_PREFIX}{i:012d}"


def migrated(i):
    return i % 10 != 0


def deleted_from_source(i):
    return i % 200 == 7


def email_changed(i):
    return i % 200 == 11


def borrows_next_email(i):
    return i % 100 == 3


def signed_up_afresh(i):
    return i % 200 == 50


def names_next_person(i):
    return i % 1000 == 5


def indices(role, n):
    """The users a pool holds, in ListUsers order. `source-map` is the clean source pool."""
    if role == "source-map":
        return range(n)
    if role == "source":
        return [i for i in range(n) if not deleted_from_source(i)]
    if role == "target":
        return [i for i in range(n) if migrated(i) or signed_up_afresh(i)]
    raise ValueError(f"unknown role {role}")


def _date(i, epoch):
    seconds = CREATED + i
    if epoch:
        return float(seconds)  # what the API sends
    # What AWS CLI v2 prints.
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(timespec="microseconds")


def user(role, i, epoch=False):
    """User i of a pool as ListUsers (epoch=True) or `aws cognito-idp list-users` shows it."""
    email = f"user{i}@example.com"
    attributes = []
    if role in ("source-map", "source"):
        sub = source_sub(i)
        if role == "source" and email_changed(i):
            email = f"user{i}.new@example.com"
    else:
        sub = target_sub(i)
        if migrated(i) and borrows_next_email(i):
            email = f"user{i + 1}@example.com"
        if migrated(i):
            attributes.append({"Name": "custom:stable_id", "Value": source_sub(i + 1 if names_next_person(i) else i)})
    attributes = [{"Name": "sub", "Value": sub}, {"Name": "email", "Value": email},
                  {"Name": "email_verified", "Value": "true"}] + attributes
    created = _date(i, epoch)
    return {"Username": f"user{i}", "Attributes": attributes, "UserCreateDate": created,
            "UserLastModifiedDate": created, "Enabled": True, "UserStatus": "CONFIRMED"}


def write(role, n, path):
    """Streams the pool to `path` as concatenated list-users pages, pretty-printed like the CLI."""
    chosen = indices(role, n)
    with open(path, "w", buffering=1 << 20) as out:
        for start in range(0, len(chosen), PAGE):
            users = [user(role, i) for i in chosen[start:start + PAGE]]
            out.write(json.dumps({"Users": users}, indent=4) + "\n")


def expected(n):
    """Open findings per kind after one run on a fresh map, and users read per pool."""
    counts = dict.fromkeys(KINDS, 0)
    for i in range(n):
        if not migrated(i):
            counts["unmigrated"] += 1  # never an orphaned or a stale index (7, 11 mod 200 are migrated)
        if deleted_from_source(i):
            counts["orphaned"] += 1
        if email_changed(i):
            counts["stale"] += 1
        if migrated(i) and borrows_next_email(i) and i + 1 < n:
            counts["duplicate"] += 1  # user{i+1}'s address: its person's identities and this one
        if signed_up_afresh(i):
            counts["unmapped"] += 1
            counts["duplicate"] += 1  # the source user's address: its person and the unmapped user
        if migrated(i) and names_next_person(i):
            counts["conflict"] += 1
    return {"counts": counts,
            "scanned": {"source": len(indices("source", n)), "target": len(indices("target", n))}}


def target_map_sql(n, target, campaign):
    """Target identities of the users who migrated, linked to their persons (= source subs; the
    users' foreign key fails the INSERT if the source was not imported with --reuse-sub-as-user-id)."""
    for value in (target, campaign):
        if "'" in value:
            raise ValueError("quotes in a pool id or campaign name")
    return f"""
INSERT INTO identities (user_id, pool_id, sub, username, email, email_normalized, email_verified, provider, status, via,
                        campaign_id)
SELECT ('{SOURCE_PREFIX}' || lpad(i::text, 12, '0'))::uuid, '{target}', '{TARGET_PREFIX}' || lpad(i::text, 12, '0'),
       'user' || i, m.email, m.email, true, 'Cognito', 'active', 'lazy',
       (SELECT id FROM campaigns WHERE name = '{campaign}')
FROM generate_series(0, {n - 1}) i,
     LATERAL (SELECT 'user' || CASE WHEN i % 100 = 3 THEN i + 1 ELSE i END || '@example.com' AS email) m
WHERE i % 10 <> 0;
"""


def main(argv):
    if len(argv) == 4 and argv[0] == "write":
        write(argv[1], int(argv[2]), argv[3])
    elif len(argv) == 2 and argv[0] == "expected":
        json.dump(expected(int(argv[1])), sys.stdout)
        sys.stdout.write("\n")
    elif len(argv) == 4 and argv[0] == "target-map-sql":
        sys.stdout.write(target_map_sql(int(argv[1]), argv[2], argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
