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
        public var autoConfirmSubscriptions: Bool
        /// Empty: any address may post.
        public var allowlist: IPAllowlist
        public var rateLimit: RateLimitSettings?
    }

    private var entries: [String: Entry] = [:]

    /// `certificates` serves Amazon SES sources (SNS signing certificates).
    public init(
        sources: [SourceSettings], secrets: Secrets, certificates: any SNSCertificateSource = NoSNSCertificates()
    ) throws(ConfigurationError) {
        for source in sources {
            guard let id = Provider(rawValue: source.provider) else {
                throw ConfigurationError(message: "source \(source.name): unknown provider \(source.provider)")
            }
            guard let provider = ProviderRegistry.provider(for: id, certificates: certificates) else {
                throw ConfigurationError(message: "source \(source.name): provider \(source.provider) is not implemented yet")
            }
            let keys = secrets.sourceSecrets(source)
            let open = source.allowUnauthenticated ?? false
            let topics = source.topicArns ?? []
            // SES is authenticated by AWS's signature; what the source must say is which topics it trusts.
            if id == .ses {
                guard !topics.isEmpty || open else {
                    throw ConfigurationError(message: "source ses/\(source.name) needs topicArns: the SNS topics it accepts")
                }
            } else if keys.isEmpty && !open {
                throw ConfigurationError(
                    message: """
                        source \(source.provider)/\(source.name) has no credentials: set \(source.secretVariable) \
                        (or mark the source allowUnauthenticated, for local development only)
                        """)
            }
            for (index, secret) in keys.enumerated() {
                if let problem = provider.unusableSecret(secret) {
                    throw ConfigurationError(
                        message: "source \(source.provider)/\(source.name): secret \(index + 1) of \(source.secretVariable): \(problem)")
                }
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
                    url: source.url,
                    allowedTopics: topics
                ),
                autoConfirmSubscriptions: source.autoConfirmSubscriptions ?? true,
                allowlist: try allowlist(source),
                rateLimit: source.rateLimit
            )
            if let limit = source.rateLimit, !(limit.requestsPerSecond > 0) || limit.capacity < 1 {
                throw ConfigurationError(
                    message: "source \(source.provider)/\(source.name) rateLimit: requestsPerSecond must be > 0 and burst at least 1")
            }
        }
    }

    private func allowlist(_ source: SourceSettings) throws(ConfigurationError) -> IPAllowlist {
        do {
            return try IPAllowlist(source.ipAllowlist ?? [])
        } catch {
            throw ConfigurationError(message: "source \(source.provider)/\(source.name) ipAllowlist: \(error)")
        }
    }

    public func entry(provider: String, source: String) -> Entry? {
        entries[Self.key(provider, source)]
    }

    public var isEmpty: Bool { entries.isEmpty }

    private static func key(_ provider: String, _ source: String) -> String { provider + "/" + source }
}
