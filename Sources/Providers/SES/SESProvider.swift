import EmailEvents
import Foundation
import X509

/// Amazon SES events delivered by Amazon SNS (docs/PROVIDERS.md §7). Every message is verified with
/// SNS's RSA signature (SignatureVersion 1: SHA1, 2: SHA256, PKCS#1 v1.5) over the exact
/// canonical string, with a certificate from `sns.<region>.amazonaws.com` only, and must come from
/// one of the source's allowed topics. One SES event naming several recipients becomes one event
/// per recipient.
///
/// The topic and the message's `Timestamp` are checked before any certificate is fetched.
///
/// SNS takes any 2xx–4xx as delivered, so a refusal is final; only a 5xx is retried.
public struct SESProvider: WebhookProvider {
    public var provider: Provider { .ses }
    /// The SNS `Timestamp` (when the message was published; retries keep it) must be this recent:
    /// SNS's longest HTTP retry policy lasts 3,600 s, plus five minutes for clock skew. The
    /// MessageId guard outlives it (the ingress keeps nonces for twice the window).
    public var defaultReplayWindow: Int { 3900 }
    let certificates: any SNSCertificateSource

    public init(certificates: any SNSCertificateSource = NoSNSCertificates()) {
        self.certificates = certificates
    }

    static let subscriptionTypes = ["SubscriptionConfirmation", "UnsubscribeConfirmation"]

    public func authenticate(
        _ request: WebhookRequest, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> Authentication {
        guard let object = JSONObject.parse(request.body) else { throw WebhookError(.unreadable, "body is not an SNS JSON message") }
        let message = try SNSMessage(object)
        if let headerType = request.headers["x-amz-sns-message-type"], headerType != message.type {
            throw WebhookError(.badSignature, "x-amz-sns-message-type does not match the body")
        }
        if !(credentials.allowUnauthenticated && credentials.allowedTopics.isEmpty) {
            // Cheap checks first: a message from another topic, or an old one, makes us fetch nothing.
            guard credentials.allowedTopics.contains(message.topicArn) else {
                throw WebhookError(.badSignature, "topic \(message.topicArn) is not allowed for this source")
            }
            guard let published = ISO8601.parse(message.timestamp) else {
                throw WebhookError(.badSignature, "SNS Timestamp is not an ISO 8601 time")
            }
            try ReplayWindow.check(published.timeIntervalSince1970, window: credentials.replayWindow, now: now)
            try await verify(message)
        }
        if Self.subscriptionTypes.contains(message.type) {
            guard let url = message.subscribeURL, SNSMessage.isAllowedSubscribeURL(url) else {
                throw WebhookError(.badSignature, "SubscribeURL is not an SNS URL")
            }
        }
        return Authentication(
            replayNonce: message.type == "Notification" ? "ses:\(message.messageId)" : nil, deliveryId: message.messageId,
            parsed: .sns(message))
    }

    public func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook {
        guard case .sns(let message) = authentication.parsed else {
            return ReceivedWebhook(events: [], rejected: [RejectedElement(index: nil, reason: "not an SNS message", body: request.body)])
        }
        if Self.subscriptionTypes.contains(message.type) {
            var received = ReceivedWebhook(events: [])
            received.subscription = SubscriptionRequest(kind: message.type, topicArn: message.topicArn, url: message.subscribeURL ?? "")
            return received
        }
        var normalizer = ElementNormalizer()
        normalizer.add(index: nil, body: request.body) { () throws(WebhookError) -> [EmailEvent] in
            guard message.type == "Notification" else { throw WebhookError(.malformed, "unknown SNS message type \(message.type)") }
            guard let ses = JSONObject.parse(Array(message.message.utf8)) else {
                // SES announces a new event destination with a plain-text notification.
                if message.message.hasPrefix("Successfully validated SNS topic") { return [] }
                throw WebhookError(.malformed, "the SNS Message is not an SES event")
            }
            return try SESNormalizer.normalize(
                ses, raw: Array(message.message.utf8), deliveryId: message.messageId, fallbackTime: message.timestamp,
                source: source, receivedAt: request.receivedAt)
        }
        return normalizer.received()
    }

    private func verify(_ message: SNSMessage) async throws(WebhookError) {
        let algorithm: Certificate.SignatureAlgorithm
        switch message.signatureVersion {
        case "1": algorithm = .sha1WithRSAEncryption
        case "2": algorithm = .sha256WithRSAEncryption
        default: throw WebhookError(.badSignature, "unsupported SignatureVersion \(message.signatureVersion)")
        }
        guard let fileName = SNSURL.certificateFileName(message.signingCertURL), let url = URL(string: message.signingCertURL) else {
            throw WebhookError(.badSignature, "SigningCertURL is not an SNS certificate URL")
        }
        let certificate: Certificate
        do {
            certificate = try await certificates.certificate(for: SNSCertificateReference(url: url, fileName: fileName))
        } catch {
            throw WebhookError(.unavailable, "cannot get the SNS signing certificate: \(error)")
        }
        guard
            certificate.publicKey.isValidSignature(message.signature, for: Array(message.stringToSign.utf8), signatureAlgorithm: algorithm)
        else { throw WebhookError(.badSignature, "SNS signature does not verify") }
    }
}

/// An SNS subscription handshake the ingress should complete (or log for the operator).
public struct SubscriptionRequest: Sendable, Equatable {
    public var kind: String
    public var topicArn: String
    public var url: String
}
