/// Outbound delivery (docs/DELIVERY.md): the endpoints events are sent to, the outbox the batch
/// transaction fills (one row per new event and matching endpoint) and every attempt made.
extension Migrations {
    static let outbound = Step(
        version: 5, name: "outbound webhooks: endpoints, deliveries (the outbox), attempts",
        statements: [
            // An empty filter array matches everything. `secrets` holds the signing secrets, newest
            // first, each `{"secret": "whsec_…", "expires_at": null | timestamp}`: during a rotation
            // every unexpired one signs. `managed_by = 'config'` rows are written by the dispatcher
            // from its configuration and refused to the CLI.
            """
            CREATE TABLE webhook_endpoints (
                id                bigserial   PRIMARY KEY,
                name              text        NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.-]{1,64}$'),
                url               text        NOT NULL CHECK (url ~* '^https?://'),
                description       text        NOT NULL DEFAULT '',
                secrets           jsonb       NOT NULL CHECK (jsonb_typeof(secrets) = 'array' AND jsonb_array_length(secrets) > 0),
                event_types       text[]      NOT NULL DEFAULT '{}',
                providers         text[]      NOT NULL DEFAULT '{}',
                sources           text[]      NOT NULL DEFAULT '{}',
                campaigns         text[]      NOT NULL DEFAULT '{}',
                sender_domains    text[]      NOT NULL DEFAULT '{}',
                batch_size        integer     NOT NULL DEFAULT 1 CHECK (batch_size BETWEEN 1 AND 1000),
                rate_limit        double precision CHECK (rate_limit > 0),
                enabled           boolean     NOT NULL DEFAULT true,
                disabled_reason   text,
                failing_since     timestamptz,
                managed_by        text        NOT NULL DEFAULT 'cli' CHECK (managed_by IN ('cli', 'config')),
                created_at        timestamptz NOT NULL DEFAULT now(),
                updated_at        timestamptz NOT NULL DEFAULT now()
            )
            """,
            // `replay` is 0 for the offer the batch transaction made, else the `webhook_replays` row
            // that asked for it again: the unique key makes the first offer exactly once per
            // endpoint and event, whatever retried the batch. `leased_until`: a dispatcher is
            // sending it; nobody else claims or retries it until then.
            """
            CREATE TABLE webhook_replays (
                id                bigserial   PRIMARY KEY,
                endpoint_id       bigint      NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
                since             timestamptz NOT NULL,
                until             timestamptz NOT NULL,
                deliveries        bigint      NOT NULL DEFAULT 0,
                requested_at      timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE webhook_deliveries (
                id                bigserial   PRIMARY KEY,
                endpoint_id       bigint      NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
                provider          text        NOT NULL,
                event_key         text        NOT NULL,
                occurred_at       timestamptz NOT NULL,
                event_type        text        NOT NULL,
                replay            bigint      NOT NULL DEFAULT 0,
                status            text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
                attempts          integer     NOT NULL DEFAULT 0,
                due_at            timestamptz NOT NULL DEFAULT now(),
                leased_until      timestamptz,
                created_at        timestamptz NOT NULL DEFAULT now(),
                delivered_at      timestamptz,
                last_status       integer,
                last_error        text,
                UNIQUE (endpoint_id, provider, event_key, replay)
            )
            """,
            // In the claim's exact order: a replay or a worker's batch gives thousands of deliveries
            // one due_at, and an index without `id` made every claim sort them all (190 ms for
            // 200,000, against 0.08 ms).
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, due_at, id) WHERE status = 'pending'",
            "CREATE INDEX webhook_deliveries_created ON webhook_deliveries (endpoint_id, created_at)",
            "CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (endpoint_id) WHERE status = 'failed'",
            // `status` NULL: no HTTP answer (refused, timed out, reset).
            """
            CREATE TABLE webhook_attempts (
                id                bigserial   PRIMARY KEY,
                delivery_id       bigint      NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
                webhook_id        text        NOT NULL,
                attempt           integer     NOT NULL,
                attempted_at      timestamptz NOT NULL,
                status            integer,
                latency_ms        double precision NOT NULL,
                error             text,
                response_excerpt  text
            )
            """,
            "CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempted_at)",
            // Endpoint trouble for operators, beside the deliverability alerts.
            """
            CREATE TABLE webhook_alerts (
                id                bigserial   PRIMARY KEY,
                endpoint_id       bigint      NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
                kind              text        NOT NULL CHECK (kind IN ('disabled_gone', 'disabled_failing')),
                message           text        NOT NULL,
                raised_at         timestamptz NOT NULL DEFAULT now()
            )
            """,
        ])
}
