import EmailEvents
import Foundation

/// The credentials and policy of one source (one ESP account).
public struct SourceCredentials: Sendable {
    /// Every secret or key currently accepted; more than one while a key is being rotated.
    public var secrets: [String]
    /// Maximum distance, in seconds, between a signed timestamp and now, in either direction.
    /// Zero turns the check off.
    public var replayWindow: Int
    /// Accept requests without credentials. Only for local development.
    public var allowUnauthenticated: Bool
    /// The webhook URL exactly as entered at the ESP, for schemes that sign it (Mandrill).
    public var url: String?
    /// SNS topics this source accepts messages from (Amazon SES).
    public var allowedTopics: [String]

    public init(secrets: [String], replayWindow: Int, allowUnauthenticated: Bool = false, url: String? = nil, allowedTopics: [String] = [])
    {
        self.secrets = secrets
        self.replayWindow = replayWindow
        self.allowUnauthenticated = allowUnauthenticated
        self.url = url
        self.allowedTopics = allowedTopics
    }
}

/// What an authentic request yields.
public struct ReceivedWebhook: Sendable {
    public var events: [EmailEvent]
    /// A value that must be accepted at most once (within the replay window); the ingress guards
    /// it in Redis in the same atomic step as the events' XADD.
    public var replayNonce: String?
    /// An SNS subscription handshake to complete (Amazon SES sources).
    public var subscription: SubscriptionRequest?

    public init(events: [EmailEvent], replayNonce: String? = nil) {
        self.events = events
        self.replayNonce = replayNonce
    }
}

/// One ESP: authenticates a request on its raw bytes, then normalizes it. Never does I/O.
public protocol WebhookProvider: Sendable {
    var provider: Provider { get }
    /// The replay window a source gets when its configuration names none (seconds, 0 = off).
    var defaultReplayWindow: Int { get }
    /// The status this ESP takes as "rejected, do not retry" for an unauthentic request
    /// (Mailgun: 406). `nil`: 401 for missing credentials, 403 otherwise.
    var refusalStatus: Int? { get }

    /// Verifies first, then parses. Only Amazon SES suspends (to get a signing certificate). Authentication failures and unreadable bodies throw
    /// errors whose ``WebhookError/isAuthenticationFailure`` is true; an authentic request
    /// whose events cannot be parsed throws ``WebhookError/Code/malformed``.
    func receive(
        _ request: WebhookRequest,
        source: String,
        credentials: SourceCredentials,
        now: Date
    ) async throws(WebhookError) -> ReceivedWebhook
}

extension WebhookProvider {
    public var refusalStatus: Int? { nil }
    /// Most ESPs sign no timestamp (or their docs give no window): no replay window by default.
    public var defaultReplayWindow: Int { 0 }
}

/// The providers that are implemented, by ``Provider``.
public enum ProviderRegistry {
    /// `certificates` is where SNS signing certificates come from (Amazon SES only).
    public static func provider(
        for provider: Provider, certificates: any SNSCertificateSource = NoSNSCertificates()
    ) -> (any WebhookProvider)? {
        switch provider {
        case .mailgun: MailgunProvider()
        case .sendgrid: SendGridProvider()
        case .postmark: CredentialedJSONProvider.postmark
        case .mandrill: MandrillProvider()
        case .sparkpost: SparkPostProvider()
        case .brevo: CredentialedJSONProvider.brevo
        case .mailjet: CredentialedJSONProvider.mailjet
        case .resend: ResendProvider()
        case .mailersend: MailerSendProvider()
        case .standardwebhooks: StandardWebhooksProvider()
        case .ses: SESProvider(certificates: certificates)
        }
    }

    public static var supported: [Provider] { Provider.allCases.filter { provider(for: $0) != nil } }
}
