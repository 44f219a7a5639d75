import EmailEvents
import PostgresNIO

/// The mailbox-provider dimension (docs/ANALYTICS.md): `postwire_mailbox_provider(domain)` is the
/// configured rules written as SQL, so a rollup's recipient domains group by provider when read,
/// and a change of rules applies to all history at once.
extension EventStore {
    /// The function's body: one `CASE` over the lower-cased domain, the rules in order.
    static func mailboxProviderBody(_ providers: MailboxProviders) -> String {
        // Patterns and names are letters, digits, `-`, `_` and `.` only (``MailboxProviders``),
        // so they are spliced in as they are.
        let cases = providers.rules.filter { !$0.patterns.isEmpty }.map { rule in
            let conditions = rule.patterns.map { pattern in
                switch pattern {
                case .domain(let domain): "d = '\(domain)'"
                case .anySuffix(let name): "d ~ '^\(name)\\.[a-z]{2,6}(\\.[a-z]{2,3})?$'"
                case .subdomains(let base): "(d = '\(base)' OR right(d, \(base.utf8.count + 1)) = '.\(base)')"
                }
            }
            return "WHEN \(conditions.joined(separator: " OR ")) THEN '\(rule.provider)'"
        }
        return """
            SELECT CASE WHEN d = '' THEN '' \(cases.joined(separator: " ")) ELSE 'other' END
            FROM (SELECT lower(coalesce($1, '')) AS d) AS input
            """
    }

    static func createMailboxProviderFunction(_ providers: MailboxProviders) -> String {
        """
        CREATE OR REPLACE FUNCTION postwire_mailbox_provider(domain text) RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE AS $fn$\(mailboxProviderBody(providers))$fn$
        """
    }

    /// Makes `postwire_mailbox_provider` follow `providers`, unless it already does. Several
    /// workers starting at once take turns (two concurrent replacements of one function fail).
    public func installMailboxProviders(_ providers: MailboxProviders) async throws(EventStoreError) {
        let body = Self.mailboxProviderBody(providers)
        let statement = """
            DO $do$ BEGIN
                PERFORM pg_advisory_xact_lock(hashtext('postwire_mailbox_provider'));
                IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'postwire_mailbox_provider' AND prosrc = $body$\(body)$body$) THEN
                    EXECUTE $ddl$\(Self.createMailboxProviderFunction(providers))$ddl$;
                END IF;
            END $do$
            """
        do {
            try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// The provider the installed function names for each domain (the tests', and an operator's check).
    public func mailboxProvider(of domains: [String]) async throws(EventStoreError) -> [String] {
        do {
            var result: [String] = []
            let rows = try await client.query(
                "SELECT postwire_mailbox_provider(d) FROM unnest(\(domains)::text[]) WITH ORDINALITY AS t(d, n) ORDER BY n",
                logger: logger)
            for try await provider in rows.decode(String.self) { result.append(provider) }
            return result
        } catch {
            throw EventStoreError.from(error)
        }
    }
}
