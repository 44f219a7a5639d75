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

/// What authentication established about a request, and what it already parsed.
public struct Authentication: Sendable {
    /// A value the ingress accepts at most once within its TTL: a Mailgun token, a Standard
    /// Webhooks id, an SNS MessageId, or a hash of what a scheme without a nonce signed (SendGrid's
    /// timestamp and body). The ingress checks and consumes it in the one atomic step that stores
    /// the request's events and quarantined elements, so a spent nonce stores nothing.
    public var replayNonce: String?
    /// The request-level id each event carries (``EmailEvent/deliveryId``).
    var deliveryId: String?
    /// The body as verification parsed it, so normalization does not parse it again.
    var parsed: Parsed = .none

    enum Parsed: Sendable {
        case none
        case json(JSONObject)
        case form([(String, String)])
        case sns(SNSMessage)
    }

    init(replayNonce: String? = nil, deliveryId: String? = nil, parsed: Parsed = .none) {
        self.replayNonce = replayNonce
        self.deliveryId = deliveryId
        self.parsed = parsed
    }
}

/// One element of an authentic request that could not be normalized: quarantined on its own, so
/// its batch-mates are stored. `body` is a request body of this provider holding only this element
/// (the whole request when the request itself could not be read), so `postwire replay --from
/// quarantine` can normalize it again after a fix.
public struct RejectedElement: Sendable, Equatable {
    /// The element's position in the request; nil when the whole request was unreadable.
    public var index: Int?
    public var reason: String
    public var body: [UInt8]

    public init(index: Int?, reason: String, body: [UInt8]) {
        self.index = index
        self.reason = reason
        self.body = body
    }
}

/// What an authentic request yields.
public struct ReceivedWebhook: Sendable {
    public var events: [EmailEvent]
    /// The elements that could not be normalized (a request with only these is answered 422).
    public var rejected: [RejectedElement] = []
    /// Copied from ``Authentication/replayNonce``.
    public var replayNonce: String?
    /// An SNS subscription handshake to complete (Amazon SES sources).
    public var subscription: SubscriptionRequest?

    public init(events: [EmailEvent], rejected: [RejectedElement] = [], replayNonce: String? = nil) {
        self.events = events
        self.rejected = rejected
        self.replayNonce = replayNonce
    }
}

/// One ESP: authenticates a request on its raw bytes, then normalizes it. Never does I/O.
///
/// The two steps are separate so that nothing but authentication reads an unauthenticated body,
/// and so `postwire replay` can normalize a quarantined request again without its credentials.
/// Normalization never throws: what it cannot read is reported element by element
/// (``ReceivedWebhook/rejected``), so one bad element never costs its batch-mates
/// (docs/SECURITY.md and the README's answer table say which failures are which).
public protocol WebhookProvider: Sendable {
    var provider: Provider { get }
    /// The replay window a source gets when its configuration names none (seconds, 0 = off).
    var defaultReplayWindow: Int { get }
    /// The status this ESP takes as "rejected, do not retry" for an unauthentic request
    /// (Mailgun: 406). `nil`: 401 for missing credentials, 403 otherwise.
    var refusalStatus: Int? { get }

    /// Checks the signature or credentials on the raw bytes. Throws errors whose
    /// ``WebhookError/isAuthenticationFailure`` is true (or `unavailable` when an SNS certificate
    /// cannot be had). Only Amazon SES suspends. The declared content type refuses nothing: what
    /// authenticates is parsed as what it is, and what cannot be parsed is set aside (422), since
    /// an ESP retries a 415 for hours and then drops the events.
    func authenticate(_ request: WebhookRequest, credentials: SourceCredentials, now: Date) async throws(WebhookError) -> Authentication

    /// The events of an authenticated request, and the elements that could not be read.
    func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook

    /// Why a configured secret can never authenticate a request (a key of the wrong kind or
    /// encoding), so the ingress refuses to start instead of refusing every request; nil if usable.
    func unusableSecret(_ secret: String) -> String?
}

extension WebhookProvider {
    public var refusalStatus: Int? { nil }
    public func unusableSecret(_ secret: String) -> String? { nil }
    /// Most ESPs sign no timestamp (or their docs give no window): no replay window by default.
    public var defaultReplayWindow: Int { 0 }

    /// Authenticates and normalizes in one call (tests, `postwire replay`). A request of which
    /// nothing could be read throws ``WebhookError/Code/malformed`` with the first reason.
    public func receive(
        _ request: WebhookRequest, source: String, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> ReceivedWebhook {
        let authentication = try await authenticate(request, credentials: credentials, now: now)
        var received = normalize(request, authentication, source: source)
        received.replayNonce = authentication.replayNonce
        if received.events.isEmpty, received.subscription == nil, let first = received.rejected.first {
            throw WebhookError(.malformed, first.reason)
        }
        return received
    }
}

/// Normalizes the elements of a batch one by one: an element that throws is set aside with its
/// index and a body of its own, never taking its neighbours down.
struct ElementNormalizer {
    var events: [EmailEvent] = []
    var rejected: [RejectedElement] = []

    mutating func add(index: Int?, body: @autoclosure () -> [UInt8], _ normalize: () throws(WebhookError) -> [EmailEvent]) {
        do {
            events.append(contentsOf: try normalize())
        } catch {
            rejected.append(RejectedElement(index: index, reason: error.message, body: body()))
        }
    }

    func received(deliveryId: String? = nil) -> ReceivedWebhook {
        var events = events
        if let deliveryId { for i in events.indices { events[i].deliveryId = deliveryId } }
        return ReceivedWebhook(events: events, rejected: rejected)
    }

    /// A request whose whole body is one JSON object holding at most one event (MailerSend, Resend,
    /// a Standard Webhooks sender, an EventBridge API destination): one element, quarantined whole
    /// when it cannot be read; `normalize` returns no event for a post that is not about a message.
    static func single(
        _ request: WebhookRequest, deliveryId: String? = nil, _ normalize: (JSONObject) throws(WebhookError) -> [EmailEvent]
    ) -> ReceivedWebhook {
        var normalizer = ElementNormalizer()
        normalizer.add(index: nil, body: request.body) { () throws(WebhookError) -> [EmailEvent] in
            guard let body = JSONObject.parse(request.body) else { throw WebhookError(.malformed, "body is not a JSON object") }
            return try normalize(body)
        }
        return normalizer.received(deliveryId: deliveryId)
    }
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
        case .sesEventBridge: SESEventBridgeProvider()
        }
    }

    public static var supported: [Provider] { Provider.allCases.filter { provider(for: $0) != nil } }
}
