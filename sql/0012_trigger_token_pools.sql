-- Trigger tokens bound to pools (issue #18; Sources/IdentityMap/Tokens/TokenStore.swift,
-- Sources/StableIDAPI/Controllers/TriggerController.swift). A token of scope `trigger` could send
-- events for any pool: one leaked forwarder token could then post a forged post-authentication
-- event for another pool and link a stranger's sub to a person. A bound token answers 403
-- `pool_not_allowed` for an event whose `userPoolId` is not one of its pools.

-- The pools a trigger token may send events for. NULL: not bound — every token without the
-- trigger scope, and trigger tokens made before this migration, which keep working for every pool
-- (`stableid token list` flags them) until an admin replaces them (docs/OPERATIONS.md). The ids
-- are checked against `pools` when the token is made, in the same transaction (an array cannot
-- carry a foreign key; pools are never deleted).
ALTER TABLE api_tokens ADD COLUMN pools text[];
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_pools_check
    CHECK (pools IS NULL OR (cardinality(pools) > 0 AND 'trigger' = ANY (scopes)));

-- The key of the checksum inside new tokens (Sources/IdentityMap/Tokens/TokenSecret.swift): a
-- truncated HMAC only a holder of this key computes, so a server refuses a made-up token without
-- a query even when the attacker read the source. It is no more secret than the token hashes
-- beside it: whoever reads this table could read those too. 244 random bits from two v4 UUIDs
-- (gen_random_uuid draws from the server's strong random source; pgcrypto is not needed).
CREATE TABLE token_checksum_key (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    key       bytea NOT NULL CHECK (length(key) = 32)
);
INSERT INTO token_checksum_key (key)
VALUES (decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
GRANT SELECT ON token_checksum_key TO stableid_service;
