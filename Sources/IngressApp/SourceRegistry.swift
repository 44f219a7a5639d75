import EmailEvents
import PostwireConfig
import Providers

/// The configured sources, resolved once at startup: which provider handles a URL and with what
/// credentials. Refuses to build when a source could not authenticate anything.
public struct SourceRegistry: Sendable {
    public struct Entry: Sendable {
        public var provider: any WebhookProvider
        public var name: String
        public var credentials: SourceCredentials
    }

    private var entries: [String: Entry] = [:]

    public init(sources: [SourceSettings], secrets: Secrets) throws(ConfigurationError) {
        for source in sources {
            guard let id = Provider(rawValue: source.provider) else {
                throw ConfigurationError(message: "source \(source.name): unknown provider \(source.provider)")
            }
            guard let provider = ProviderRegistry.provider(for: id) else {
                throw ConfigurationError(message: "source \(source.name): provider \(source.provider) is not implemented yet")
            }
            let keys = secrets.sourceSecrets(source)
            let open = source.allowUnauthenticated ?? false
            guard !keys.isEmpty || open else {
                throw ConfigurationError(
                    message: """
                        source \(source.provider)/\(source.name) has no credentials: set \(source.secretVariable) \
                        (or mark the source allowUnauthenticated, for local development only)
                        """)
            }
            let key = Self.key(source.provider, source.name)
            guard entries[key] == nil else {
                throw ConfigurationError(message: "source \(source.provider)/\(source.name) is configured twice")
            }
            entries[key] = Entry(
                provider: provider,
                name: source.name,
                credentials: SourceCredentials(
                    secrets: keys,
                    replayWindow: source.replayWindowSeconds ?? provider.defaultReplayWindow,
                    allowUnauthenticated: open,
                    url: source.url
                )
            )
        }
    }

    public func entry(provider: String, source: String) -> Entry? {
        entries[Self.key(provider, source)]
    }

    public var isEmpty: Bool { entries.isEmpty }

    private static func key(_ provider: String, _ source: String) -> String { provider + "/" + source }
}
