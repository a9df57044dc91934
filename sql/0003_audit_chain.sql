-- Tamper-evident audit trail (docs/AUDIT.md).
--
-- Events stay insert-only. Every new event is queued in event_pending by a trigger (same
-- transaction); a single sealer appends queued events to event_chain in order, each row carrying
-- the SHA-256 of its predecessor's hash and the event's canonical bytes. Writers never wait on a
-- chain-wide lock; `stableid audit verify` recomputes the chain.

-- Personal data is hashed with a per-row random salt; deleting the row (erasure) deletes the
-- salt too, so the digest kept in the chain reveals nothing, and the chain still verifies.
ALTER TABLE event_personal_data
    ADD COLUMN salt bytea NOT NULL DEFAULT (uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));

CREATE TABLE event_pending (
    event_id bigint PRIMARY KEY
);

CREATE FUNCTION stableid_queue_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_pending (event_id) VALUES (NEW.id);
    RETURN NEW;
END;
$$;
CREATE TRIGGER events_queue_for_sealing AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION stableid_queue_event();

-- Events that exist already join the queue in id order.
INSERT INTO event_pending (event_id) SELECT id FROM events;

CREATE TABLE event_chain (
    seq              bigint PRIMARY KEY CHECK (seq > 0),
    event_id         bigint NOT NULL UNIQUE REFERENCES events (id),
    -- SHA-256(salt || personal data text) when the event named personal data; kept after erasure.
    personal_digest  bytea,
    prev_hash        bytea NOT NULL,
    hash             bytea NOT NULL,
    sealed_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TRIGGER event_chain_append_only_rows BEFORE UPDATE OR DELETE ON event_chain
    FOR EACH ROW EXECUTE FUNCTION stableid_reject_event_change();
CREATE TRIGGER event_chain_append_only_truncate BEFORE TRUNCATE ON event_chain
    FOR EACH STATEMENT EXECUTE FUNCTION stableid_reject_event_change();

CREATE INDEX events_actor ON events (actor, id);
CREATE INDEX events_occurred ON events (occurred_at, id);

-- The role split: the service logs in as a role that is a member of stableid_service, which
-- cannot UPDATE, DELETE or TRUNCATE the audit tables (the triggers stop owners too; privileges
-- stop the service even if a trigger were dropped). Migrations run as the owner. Roles are
-- cluster-wide, so creating it is idempotent.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stableid_service') THEN
        CREATE ROLE stableid_service NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO stableid_service;
GRANT SELECT, INSERT, UPDATE, DELETE ON pools, users, identities, api_tokens, idempotency_keys, import_staging, event_pending
    TO stableid_service;
GRANT SELECT, INSERT, DELETE ON event_personal_data TO stableid_service;
GRANT SELECT, INSERT ON events, event_chain TO stableid_service;
GRANT SELECT ON schema_migrations TO stableid_service;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO stableid_service;
REVOKE UPDATE, DELETE, TRUNCATE ON events, event_chain FROM stableid_service;
