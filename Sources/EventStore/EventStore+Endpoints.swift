import Foundation
import PostgresNIO

/// `webhook_endpoints`: what `postwire endpoints …` and the dispatcher's configuration manage.
extension EventStore {
    static let endpointColumns = """
        id, name, url, description, secrets::text, event_types, providers, sources, campaigns, sender_domains,
        batch_size, rate_limit, enabled, disabled_reason, failing_since, managed_by
        """

    /// Every endpoint, by name.
    public func endpoints() async throws(EventStoreError) -> [WebhookEndpoint] {
        try await endpointRows("SELECT \(unescaped: Self.endpointColumns) FROM webhook_endpoints ORDER BY name")
    }

    public func endpoint(named name: String) async throws(EventStoreError) -> WebhookEndpoint? {
        try await endpointRows("SELECT \(unescaped: Self.endpointColumns) FROM webhook_endpoints WHERE name = \(name)").first
    }

    /// Stores a new endpoint; a name already taken is refused.
    @discardableResult
    public func addEndpoint(_ draft: EndpointDraft, managedBy: String = "cli") async throws(EventStoreError) -> WebhookEndpoint {
        do { try draft.validate() } catch { throw EventStoreError(.rejected, error.message) }
        let secrets = Self.secretsJSON([EndpointSecret(secret: draft.secret)])
        let f = draft.filter
        do {
            let rows = try await client.query(
                """
                INSERT INTO webhook_endpoints (name, url, description, secrets, event_types, providers, sources, campaigns,
                    sender_domains, batch_size, rate_limit, managed_by)
                VALUES (\(draft.name), \(draft.url), \(draft.description), \(secrets)::jsonb, \(f.eventTypes), \(f.providers),
                    \(f.sources), \(f.campaigns), \(f.senderDomains), \(Int32(draft.batchSize)), \(draft.rateLimit), \(managedBy))
                ON CONFLICT (name) DO NOTHING RETURNING id
                """, logger: logger)
            var inserted = false
            for try await _ in rows { inserted = true }
            guard inserted else { throw EventStoreError(.rejected, "an endpoint named \(draft.name) exists already") }
        } catch {
            throw EventStoreError.from(error)
        }
        guard let endpoint = try await endpoint(named: draft.name) else {
            throw EventStoreError(.unavailable, "the endpoint \(draft.name) was removed as it was added")
        }
        return endpoint
    }

    /// Why a configured endpoint was disabled when it left the configuration; back in it, it is
    /// enabled again.
    static let unconfigured = "no longer in the configuration"

    /// The dispatcher's configured endpoints (immutable deployments): each is made or brought in line
    /// with the configuration, keeping its id, deliveries and state; the secret given is the only
    /// one. Config endpoints no longer configured are disabled, not removed (their history stays).
    public func syncConfiguredEndpoints(_ drafts: [EndpointDraft]) async throws(EventStoreError) {
        for draft in drafts {
            do { try draft.validate() } catch { throw EventStoreError(.rejected, "endpoint \(draft.name): \(error.message)") }
        }
        do {
            try await transaction { connection in
                for draft in drafts {
                    let f = draft.filter
                    let rows = try await rows(
                        """
                        INSERT INTO webhook_endpoints AS e (name, url, description, secrets, event_types, providers, sources,
                            campaigns, sender_domains, batch_size, rate_limit, managed_by)
                        VALUES (\(draft.name), \(draft.url), \(draft.description),
                            \(Self.secretsJSON([EndpointSecret(secret: draft.secret)]))::jsonb, \(f.eventTypes), \(f.providers),
                            \(f.sources), \(f.campaigns), \(f.senderDomains), \(Int32(draft.batchSize)), \(draft.rateLimit), 'config')
                        ON CONFLICT (name) DO UPDATE SET url = EXCLUDED.url, description = EXCLUDED.description,
                            secrets = EXCLUDED.secrets, event_types = EXCLUDED.event_types, providers = EXCLUDED.providers,
                            sources = EXCLUDED.sources, campaigns = EXCLUDED.campaigns, sender_domains = EXCLUDED.sender_domains,
                            batch_size = EXCLUDED.batch_size, rate_limit = EXCLUDED.rate_limit, updated_at = now(),
                            enabled = e.enabled OR coalesce(e.disabled_reason = \(Self.unconfigured), false),
                            disabled_reason = CASE WHEN e.disabled_reason = \(Self.unconfigured) THEN NULL ELSE e.disabled_reason END,
                            failing_since = CASE WHEN e.disabled_reason = \(Self.unconfigured) THEN NULL ELSE e.failing_since END
                        WHERE e.managed_by = 'config'
                        RETURNING id
                        """, on: connection)
                    var written = false
                    for try await _ in rows { written = true }
                    if !written { throw EventStoreError(.rejected, "endpoint \(draft.name) is managed by the CLI; rename one of them") }
                }
                try await run(
                    """
                    UPDATE webhook_endpoints SET enabled = false, disabled_reason = \(Self.unconfigured), updated_at = now()
                    WHERE managed_by = 'config' AND enabled AND NOT (name = ANY (\(drafts.map(\.name))))
                    """, on: connection)
            }
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Enables or disables an endpoint, configured ones included (their state is not configuration).
    /// A disabled endpoint is offered no new events and sent nothing; its pending deliveries wait
    /// for it to be enabled again.
    public func setEndpoint(_ name: String, enabled: Bool, reason: String? = nil) async throws(EventStoreError) {
        try await updateEndpoint(
            name,
            """
            UPDATE webhook_endpoints SET enabled = \(enabled), disabled_reason = \(enabled ? nil : (reason ?? "disabled by an operator")),
                failing_since = CASE WHEN \(enabled) THEN NULL ELSE failing_since END, updated_at = now()
            WHERE name = \(name) RETURNING id
            """)
    }

    /// Makes `secret` the signing secret; the current ones keep signing for `overlap` more (so a
    /// receiver can switch to the new one in its own time), then stop.
    public func rotateSecret(_ name: String, to secret: String, overlap: TimeInterval) async throws(EventStoreError) {
        do { try WebhookSecret.validate(secret) } catch { throw EventStoreError(.rejected, error.message) }
        guard let endpoint = try await endpoint(named: name) else { throw EventStoreError(.rejected, "no endpoint named \(name)") }
        let until = Date().addingTimeInterval(overlap)
        let kept = endpoint.secrets.filter { ($0.expiresAt ?? .distantFuture) > Date() }
            .map { EndpointSecret(secret: $0.secret, expiresAt: min($0.expiresAt ?? until, until)) }
        let secrets = Self.secretsJSON([EndpointSecret(secret: secret)] + (overlap > 0 ? kept : []))
        try await updateEndpoint(
            name,
            """
            UPDATE webhook_endpoints SET secrets = \(secrets)::jsonb, updated_at = now()
            WHERE name = \(name) AND managed_by = 'cli' RETURNING id
            """)
    }

    /// Removes an endpoint with its deliveries and attempts.
    public func removeEndpoint(_ name: String) async throws(EventStoreError) {
        try await updateEndpoint(name, "DELETE FROM webhook_endpoints WHERE name = \(name) AND managed_by = 'cli' RETURNING id")
    }

    private func updateEndpoint(_ name: String, _ query: PostgresQuery) async throws(EventStoreError) {
        var changed = false
        do {
            for try await _ in try await client.query(query, logger: logger) { changed = true }
        } catch {
            throw EventStoreError.from(error)
        }
        guard !changed else { return }
        guard let endpoint = try await endpoint(named: name) else { throw EventStoreError(.rejected, "no endpoint named \(name)") }
        throw EventStoreError(
            .rejected, "endpoint \(name) is managed by the \(endpoint.managedBy == "config" ? "dispatcher's configuration" : "CLI")")
    }

    static func secretsJSON(_ secrets: [EndpointSecret]) -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: (try? encoder.encode(secrets)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func decodeSecrets(_ json: String) -> [EndpointSecret] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return (try? decoder.decode([EndpointSecret].self, from: Data(json.utf8))) ?? []
    }

    private func endpointRows(_ query: PostgresQuery) async throws(EventStoreError) -> [WebhookEndpoint] {
        do {
            var result: [WebhookEndpoint] = []
            for try await row in try await client.query(query, logger: logger) {
                let (id, name, url, description, secrets, types, providers, sources, campaigns, domains) = try row.decode(
                    (Int64, String, String, String, String, [String], [String], [String], [String], [String]).self)
                let cells = row.makeRandomAccess()
                result.append(
                    WebhookEndpoint(
                        id: id, name: name, url: url, description: description, secrets: Self.decodeSecrets(secrets),
                        filter: EndpointFilter(
                            eventTypes: types, providers: providers, sources: sources, campaigns: campaigns, senderDomains: domains),
                        batchSize: Int(try cells[10].decode(Int32.self)), rateLimit: try cells[11].decode(Double?.self),
                        enabled: try cells[12].decode(Bool.self), disabledReason: try cells[13].decode(String?.self),
                        failingSince: try cells[14].decode(Date?.self), managedBy: try cells[15].decode(String.self)))
            }
            return result
        } catch {
            throw EventStoreError.from(error)
        }
    }
}
