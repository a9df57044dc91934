-- Token lookups (issue #21; Sources/StableIDAPI/Controllers/TokenResolveController.swift,
-- Sources/Cognito/Tokens/). `POST /v1/resolve/token` verifies a Cognito ID or access token against
-- its pool's signing keys and resolves its sub. Any app client of a pool can get tokens signed by
-- those keys — a test client, a partner's, a client left over from an old app — so a pool may name
-- the clients whose tokens StableID resolves: the `aud` of an ID token, the `client_id` of an access
-- token, must be one of them.

-- NULL: any client of the pool (every pool registered before this migration, until an admin sets a
-- list: `stableid pool update --token-client-id`, `PATCH /v1/pools/{id}`). A list is never empty
-- (a pool no client may present tokens for is no use) and holds app client ids as Cognito makes
-- them (letters, digits, '_' and '+'; the 1 to 128 characters each, and at most 50 ids, are checked
-- by the service). The NULL element of an array is spelled '*' for the pattern, which refuses it.
ALTER TABLE pools ADD COLUMN token_client_ids text[];
ALTER TABLE pools ADD CONSTRAINT pools_token_client_ids_check
    CHECK (token_client_ids IS NULL
           OR (cardinality(token_client_ids) > 0
               AND array_to_string(token_client_ids, ',', '*') ~ '^[A-Za-z0-9_+]+(,[A-Za-z0-9_+]+)*$'));

-- No grant: stableid_service has held SELECT, INSERT and UPDATE on the whole `pools` table since
-- 0003, which covers a new column. The change-feed trigger on `pools` (0007) fires only when an id
-- or issuer changes, so setting a list does not disturb the lookup cache.
