import Crypto
import Foundation
import WebhookSigning

/// Which new events an endpoint is offered: each list, when not empty, must contain the event's
/// value (event types without the `email.` prefix, sender domains in lower case).
public struct EndpointFilter: Sendable, Equatable, Codable {
    public var eventTypes: [String]
    public var providers: [String]
    public var sources: [String]
    public var campaigns: [String]
    public var senderDomains: [String]

    public init(
        eventTypes: [String] = [], providers: [String] = [], sources: [String] = [], campaigns: [String] = [],
        senderDomains: [String] = []
    ) {
        // `email.bounced` (the payload's `type`) and `bounced` mean the same.
        self.eventTypes = eventTypes.map { $0.hasPrefix("email.") ? String($0.dropFirst(6)) : $0 }
        self.providers = providers.map { $0.lowercased() }
        self.sources = sources
        self.campaigns = campaigns
        self.senderDomains = senderDomains.map { $0.lowercased() }
    }

    public var isEmpty: Bool {
        eventTypes.isEmpty && providers.isEmpty && sources.isEmpty && campaigns.isEmpty && senderDomains.isEmpty
    }
}

/// A signing secret of an endpoint. During a rotation the old one keeps signing until `expiresAt`.
public struct EndpointSecret: Sendable, Equatable, Codable {
    public var secret: String
    public var expiresAt: Date?

    public init(secret: String, expiresAt: Date? = nil) {
        self.secret = secret
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case secret
        case expiresAt = "expires_at"
    }
}

/// What `postwire endpoints add` (or the configuration) says of an endpoint.
public struct EndpointDraft: Sendable, Equatable {
    public var name: String
    public var url: String
    public var description: String
    public var secret: String
    public var filter: EndpointFilter
    public var batchSize: Int
    /// Requests per second at most; nil: as fast as the receiver answers.
    public var rateLimit: Double?

    public init(
        name: String, url: String, description: String = "", secret: String, filter: EndpointFilter = EndpointFilter(),
        batchSize: Int = 1, rateLimit: Double? = nil
    ) {
        self.name = name
        self.url = url
        self.description = description
        self.secret = secret
        self.filter = filter
        self.batchSize = batchSize
        self.rateLimit = rateLimit
    }
}

/// One row of `webhook_endpoints`.
public struct WebhookEndpoint: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var url: String
    public var description: String
    /// Newest first.
    public var secrets: [EndpointSecret]
    public var filter: EndpointFilter
    public var batchSize: Int
    public var rateLimit: Double?
    public var enabled: Bool
    public var disabledReason: String?
    public var failingSince: Date?
    /// `cli` or `config`.
    public var managedBy: String

    public init(
        id: Int64, name: String, url: String, description: String, secrets: [EndpointSecret], filter: EndpointFilter, batchSize: Int,
        rateLimit: Double?, enabled: Bool, disabledReason: String?, failingSince: Date?, managedBy: String
    ) {
        self.id = id
        self.name = name
        self.url = url
        self.description = description
        self.secrets = secrets
        self.filter = filter
        self.batchSize = batchSize
        self.rateLimit = rateLimit
        self.enabled = enabled
        self.disabledReason = disabledReason
        self.failingSince = failingSince
        self.managedBy = managedBy
    }

    /// The secrets that sign a request sent at `now`.
    public func signingSecrets(at now: Date) -> [String] {
        secrets.filter { ($0.expiresAt ?? .distantFuture) > now }.map(\.secret)
    }
}

/// The endpoints' answer to a request the CLI cannot carry out.
public struct EndpointError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension EndpointDraft {
    /// What a draft must satisfy before it is stored; the table's checks say the same, these say it
    /// in words.
    public func validate() throws(EndpointError) {
        guard name.range(of: #"^[A-Za-z0-9_.-]{1,64}$"#, options: .regularExpression) != nil else {
            throw EndpointError("an endpoint name is 1 to 64 letters, digits, '.', '_' or '-': \(name)")
        }
        guard let components = URLComponents(string: url), ["http", "https"].contains(components.scheme?.lowercased() ?? ""),
            !(components.host ?? "").isEmpty
        else { throw EndpointError("the URL must be http:// or https:// with a host: \(url)") }
        guard (1...1000).contains(batchSize) else {
            throw EndpointError("the batch size is 1 to 1000 events per request, not \(batchSize)")
        }
        if let rateLimit, !(rateLimit > 0 && rateLimit.isFinite) {
            throw EndpointError("the rate limit is a positive number of requests per second, not \(rateLimit)")
        }
        try WebhookSecret.validate(secret)
    }
}

/// An endpoint's signing secret: `whsec_` and the base64 of the key, as Standard Webhooks senders
/// and receivers exchange it (``StandardWebhooksHMAC``). Unlike the ingress, which also takes the
/// bare base64 a sender may show, the dispatcher hands out and takes only the prefixed form.
public enum WebhookSecret {
    public static func key(of secret: String) -> SymmetricKey? {
        secret.hasPrefix("whsec_") ? StandardWebhooksHMAC.key(secret) : nil
    }

    public static func validate(_ secret: String) throws(EndpointError) {
        guard let key = key(of: secret), key.bitCount / 8 >= StandardWebhooksHMAC.minimumSecretBytes else {
            throw EndpointError(
                "a signing secret is whsec_ and the base64 of at least \(StandardWebhooksHMAC.minimumSecretBytes) random bytes")
        }
    }

    /// A new secret of 32 random bytes.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "whsec_" + Data(bytes).base64EncodedString()
    }
}
