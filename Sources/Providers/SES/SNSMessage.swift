import Foundation

/// One Amazon SNS HTTP(S) delivery (docs/PROVIDERS.md §7.1): a JSON document, sent as
/// `text/plain`, whose `Type` is Notification, SubscriptionConfirmation or UnsubscribeConfirmation.
struct SNSMessage: Sendable {
    var type: String
    var messageId: String
    var topicArn: String
    var message: String
    var timestamp: String
    var subject: String?
    var subscribeURL: String?
    var token: String?
    var signatureVersion: String
    var signature: Data
    var signingCertURL: String

    init(_ object: JSONObject) throws(WebhookError) {
        func required(_ key: String) throws(WebhookError) -> String {
            guard let value = object.string(key) else { throw WebhookError(.unreadable, "SNS message has no \(key)") }
            return value
        }
        type = try required("Type")
        messageId = try required("MessageId")
        topicArn = try required("TopicArn")
        message = try required("Message")
        timestamp = try required("Timestamp")
        subject = object.string("Subject")
        subscribeURL = object.string("SubscribeURL")
        token = object.string("Token")
        signatureVersion = try required("SignatureVersion")
        guard let signature = Data(base64Encoded: try required("Signature")) else {
            throw WebhookError(.badSignature, "SNS Signature is not base64")
        }
        self.signature = signature
        signingCertURL = try required("SigningCertURL")
    }

    /// The exact string SNS signs: `name\nvalue\n` for each field of the type, in this order.
    /// A Notification's Subject is included only when present.
    var stringToSign: String {
        let fields: [(String, String?)]
        switch type {
        case "Notification":
            fields = [
                ("Message", message), ("MessageId", messageId), ("Subject", subject), ("Timestamp", timestamp), ("TopicArn", topicArn),
                ("Type", type),
            ]
        default:
            fields = [
                ("Message", message), ("MessageId", messageId), ("SubscribeURL", subscribeURL), ("Timestamp", timestamp),
                ("Token", token), ("TopicArn", topicArn), ("Type", type),
            ]
        }
        return fields.compactMap { name, value in value.map { "\(name)\n\($0)\n" } }.joined()
    }

    /// Only `https://sns.<region>.amazonaws.com[.cn]/<name>.pem` may name a signing certificate
    /// (``SNSURL``): a forged message must not make us fetch (or trust) one from anywhere else.
    static func isAllowedCertificateURL(_ text: String) -> Bool {
        SNSURL.certificateFileName(text) != nil
    }

    /// A SubscribeURL must be an SNS endpoint too.
    static func isAllowedSubscribeURL(_ text: String) -> Bool {
        SNSURL.isSNSEndpoint(text)
    }
}
