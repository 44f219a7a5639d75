import EmailEvents
import Foundation
import X509

/// Amazon SES events delivered by Amazon SNS (ESP-REFERENCE.md §7). Every message is verified with
/// SNS's RSA signature (SignatureVersion 1: SHA1, 2: SHA256, PKCS#1 v1.5) over the exact
/// canonical string, with a certificate from `sns.<region>.amazonaws.com` only, and must come from
/// one of the source's allowed topics. One SES event naming several recipients becomes one event
/// per recipient.
///
/// SNS takes any 2xx–4xx as delivered, so a refusal is final; only a 5xx is retried.
public struct SESProvider: WebhookProvider {
    public var provider: Provider { .ses }
    let certificates: any SNSCertificateSource

    public init(certificates: any SNSCertificateSource = NoSNSCertificates()) {
        self.certificates = certificates
    }

    public func receive(
        _ request: WebhookRequest,
        source: String,
        credentials: SourceCredentials,
        now: Date
    ) async throws(WebhookError) -> ReceivedWebhook {
        guard ["text/plain", "application/json"].contains(request.mediaType ?? "") else {
            throw WebhookError(.unsupportedMediaType, "SNS posts text/plain")
        }
        guard let object = JSONObject.parse(request.body) else { throw WebhookError(.unreadable, "body is not an SNS JSON message") }
        let message = try SNSMessage(object)
        if let headerType = request.headers["x-amz-sns-message-type"], headerType != message.type {
            throw WebhookError(.badSignature, "x-amz-sns-message-type does not match the body")
        }
        if !(credentials.allowUnauthenticated && credentials.allowedTopics.isEmpty) {
            try await verify(message)
            guard credentials.allowedTopics.contains(message.topicArn) else {
                throw WebhookError(.badSignature, "topic \(message.topicArn) is not allowed for this source")
            }
        }
        switch message.type {
        case "Notification":
            guard let ses = JSONObject.parse(Array(message.message.utf8)) else {
                // SES announces a new event destination with a plain-text notification.
                if message.message.hasPrefix("Successfully validated SNS topic") { return ReceivedWebhook(events: []) }
                throw WebhookError(.malformed, "the SNS Message is not an SES event")
            }
            let events = try SESNormalizer.normalize(
                ses, raw: Array(message.message.utf8), snsMessageId: message.messageId, snsTimestamp: message.timestamp,
                source: source, receivedAt: request.receivedAt
            )
            return ReceivedWebhook(events: events, replayNonce: "ses:\(message.messageId)")
        case "SubscriptionConfirmation", "UnsubscribeConfirmation":
            guard let url = message.subscribeURL, SNSMessage.isAllowedSubscribeURL(url) else {
                throw WebhookError(.badSignature, "SubscribeURL is not an SNS URL")
            }
            var received = ReceivedWebhook(events: [])
            received.subscription = SubscriptionRequest(kind: message.type, topicArn: message.topicArn, url: url)
            return received
        default:
            throw WebhookError(.malformed, "unknown SNS message type \(message.type)")
        }
    }

    private func verify(_ message: SNSMessage) async throws(WebhookError) {
        let algorithm: Certificate.SignatureAlgorithm
        switch message.signatureVersion {
        case "1": algorithm = .sha1WithRSAEncryption
        case "2": algorithm = .sha256WithRSAEncryption
        default: throw WebhookError(.badSignature, "unsupported SignatureVersion \(message.signatureVersion)")
        }
        guard SNSMessage.isAllowedCertificateURL(message.signingCertURL), let url = URL(string: message.signingCertURL) else {
            throw WebhookError(.badSignature, "SigningCertURL is not an SNS certificate URL")
        }
        let certificate: Certificate
        do {
            certificate = try await certificates.certificate(at: url)
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
