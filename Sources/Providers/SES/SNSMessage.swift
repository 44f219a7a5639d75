import Foundation

/// One Amazon SNS HTTP(S) delivery (ESP-REFERENCE.md §7.1): a JSON document, sent as
/// `text/plain`, whose `Type` is Notification, SubscriptionConfirmation or UnsubscribeConfirmation.
struct SNSMessage {
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

    /// Only `https://sns.<region>.amazonaws.com[.cn]/….pem` may name a signing certificate: a
    /// forged message must not make us fetch (or trust) a certificate from anywhere else.
    static func isAllowedCertificateURL(_ text: String) -> Bool {
        guard let url = URL(string: text), url.scheme == "https", url.user == nil, url.port == nil || url.port == 443,
            let host = url.host?.lowercased(), url.path.hasSuffix(".pem"), url.query == nil
        else { return false }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        let region = parts.count >= 4 ? parts[1] : ""
        let valid = !region.isEmpty && region.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }
        let suffix = parts.dropFirst(2).joined(separator: ".")
        return parts.first == "sns" && valid && (suffix == "amazonaws.com" || suffix == "amazonaws.com.cn")
    }

    /// A SubscribeURL must point at SNS itself too.
    static func isAllowedSubscribeURL(_ text: String) -> Bool {
        guard let url = URL(string: text), url.scheme == "https", url.user == nil, let host = url.host?.lowercased() else { return false }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        let suffix = parts.dropFirst(2).joined(separator: ".")
        return parts.count >= 4 && parts.first == "sns" && (suffix == "amazonaws.com" || suffix == "amazonaws.com.cn")
    }
}
