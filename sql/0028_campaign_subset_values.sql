-- The values of a subset campaign's `--only ATTR=V[,V…]` conditions move out of `campaigns.subset`
-- into a table of their own. A value can be someone's personal data (`--only email=…`,
-- `preferred_username=…`): an erasure must be able to delete it, as it deletes a person's lines of
-- a member file (campaign_subset_members), and `campaign_created` now records each condition's
-- attribute, the number of its values and the SHA-256 of the values sorted and joined by newlines,
-- never a value (UserMigration's CampaignSubset, docs/AUDIT.md). Events are append-only: the
-- `campaign_created` of a campaign made before this migration keeps the values it recorded.
--
-- `campaigns.subset` keeps `{"only": [{"attribute": "custom:country"}, …], "members": {…}}`: which
-- attributes the conditions are about, in order. A condition whose values an erasure has all
-- deleted admits nobody (never everybody).
CREATE TABLE campaign_subset_values (
    campaign_id  uuid NOT NULL REFERENCES campaigns (id),
    attribute    text NOT NULL CHECK (attribute ~ '^[A-Za-z0-9_.-][A-Za-z0-9_:.-]{0,63}$'),
    value        text NOT NULL CHECK (value <> '' AND octet_length(value) <= 2048),
    -- Where the operator put it in `--only`: `campaign show` lists the values in that order.
    position     integer NOT NULL CHECK (position >= 0),
    PRIMARY KEY (campaign_id, attribute, value)
);
-- An erasure looks values up by what the person's identities hold, lower-cased.
CREATE INDEX campaign_subset_values_lower ON campaign_subset_values (lower(value));

INSERT INTO campaign_subset_values (campaign_id, attribute, value, position)
SELECT c.id, o.condition->>'attribute', v.value, v.n - 1
FROM campaigns c
CROSS JOIN LATERAL jsonb_array_elements(c.subset->'only') AS o (condition)
CROSS JOIN LATERAL jsonb_array_elements_text(o.condition->'values') WITH ORDINALITY AS v (value, n)
WHERE c.subset IS NOT NULL
ON CONFLICT DO NOTHING;

UPDATE campaigns c
SET subset = jsonb_set(
    c.subset, '{only}',
    (SELECT coalesce(jsonb_agg(o.condition - 'values' ORDER BY o.n), '[]'::jsonb)
     FROM jsonb_array_elements(c.subset->'only') WITH ORDINALITY AS o (condition, n)))
WHERE c.subset IS NOT NULL AND c.subset ? 'only';

-- The Migrate-user trigger reads the values with its campaign; an erasure deletes a person's.
GRANT SELECT, DELETE ON campaign_subset_values TO stableid_service;
