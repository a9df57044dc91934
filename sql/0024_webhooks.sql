-- Webhooks (Sources/Webhooks, docs/OPERATIONS.md "Webhooks"): endpoints that `serve` POSTs the
-- change feed to, signed as Standard Webhooks says, each from a durable cursor of its own.
--
-- One row per endpoint. `cursor` is a change_feed position: every change at or before it is
-- delivered (or not of the endpoint's kinds). It only moves after the receiver answered 2xx, so a
-- server killed at any moment leaves it at most one message behind (delivered again, with the
-- same webhook-id: at least once). `pending_through` pins the message being attempted — the
-- changes of the endpoint's kinds in (cursor, pending_through] — so every retry, and a retry by
-- another server after a restart, sends the same changes under the same id.
--
-- One server delivers an endpoint at a time: a lease (`lease_owner`, a server's random id, until
-- `lease_until`), claimed only when free or expired and renewed while the worker runs. Every write
-- a worker makes names its lease (`WHERE lease_owner = …`), so a server that lost it — stalled past
-- its expiry while another took over, or the endpoint removed or disabled meanwhile — finds out at
-- its next write and stops. A lease rather than a session advisory lock: it needs no connection
-- held per endpoint, and it fences the cursor's writes. A graceful shutdown releases its leases;
-- after a kill -9 another server takes over once the lease expires (STABLEID_WEBHOOK_LEASE_S).
--
-- The secret: Standard Webhooks signs with HMAC-SHA-256, which needs the key itself, so it cannot
-- be stored hashed, and encrypting it with a key kept next to it would only move the problem. It
-- is kept here in clear, in its own column, readable by the service role (which signs) and the
-- owner; nothing else in StableID shows it (lists show secret_fingerprint). Grant auditors the
-- other columns only (docs/SECURITY.md). Removing an endpoint deletes its row and secret.
CREATE TABLE webhooks (
    id                  uuid PRIMARY KEY,
    url                 text NOT NULL CHECK (url ~* '^https?://' AND length(url) <= 2048),
    secret              text NOT NULL CHECK (secret ~ '^whsec_[A-Za-z0-9+/]+={0,2}$'),
    secret_fingerprint  text NOT NULL CHECK (secret_fingerprint ~ '^[0-9a-f]{8}$'),
    -- The change kinds delivered (`identity.linked`, …); empty: every kind.
    kinds               text[] NOT NULL DEFAULT '{}',
    allow_private       boolean NOT NULL DEFAULT false,
    description         text CHECK (length(description) BETWEEN 1 AND 200),
    state               text NOT NULL DEFAULT 'enabled' CHECK (state IN ('enabled', 'disabled')),
    disabled_reason     text CHECK (disabled_reason ~ '^[a-z_]{1,40}$'),
    cursor              bigint NOT NULL CHECK (cursor >= 0),
    pending_through     bigint,
    -- The first failed attempt of the current message, its failed attempts, when the next one is
    -- due and the last failure's code (`http_503`, `timeout`, …: never a message or a body).
    failing_since       timestamptz,
    attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at     timestamptz,
    last_error_code     text CHECK (last_error_code ~ '^[a-z0-9_]{1,40}$'),
    last_success_at     timestamptz,
    lease_owner         uuid,
    lease_until         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhooks_disabled_reason CHECK ((state = 'disabled') = (disabled_reason IS NOT NULL)),
    CONSTRAINT webhooks_pending_after_cursor CHECK (pending_through > cursor),
    CONSTRAINT webhooks_lease CHECK ((lease_owner IS NULL) = (lease_until IS NULL))
);
CREATE INDEX webhooks_claimable ON webhooks (created_at) WHERE state = 'enabled';

GRANT SELECT, INSERT, UPDATE, DELETE ON webhooks TO stableid_service;
