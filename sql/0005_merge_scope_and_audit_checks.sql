-- Merging people is its own scope: one leaked backend token (scope write) must not be able to
-- re-key a victim's identities to another person. Tokens that could merge before keep that
-- power (upgrade note in docs/OPERATIONS.md) until an admin replaces them with narrower ones.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_scopes_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_scopes_check
    CHECK (scopes <@ ARRAY['resolve', 'write', 'merge', 'audit', 'trigger', 'admin'] AND cardinality(scopes) > 0);
UPDATE api_tokens SET scopes = array_append(scopes, 'merge') WHERE 'write' = ANY (scopes) AND NOT 'merge' = ANY (scopes);

-- The canonical bytes of an event encode NULL and '' alike for these columns, so '' is refused:
-- flipping one into the other can then not go unnoticed. (No StableID version ever wrote '' here.)
ALTER TABLE events ADD CONSTRAINT events_no_empty_text
    CHECK (pool_id <> '' AND sub <> '' AND request_id <> '' AND actor <> '' AND kind <> '') NOT VALID;
ALTER TABLE events VALIDATE CONSTRAINT events_no_empty_text;
