import Crypto
import Foundation

/// The symmetric scheme of Standard Webhooks (https://www.standardwebhooks.com), in one place for
/// every side of it: the ingress verifying what senders post, the sample senders of the tests and
/// `postwire send-test`, and the dispatcher signing what Postwire sends. A secret is `whsec_` and
/// the base64 of the key; the signed content is `{id}.{timestamp}.{body}`; a signature is `v1,`
/// and the base64 of its HMAC-SHA256.
public enum StandardWebhooksHMAC {
    /// The spec's shortest secret: a shorter HMAC key can be guessed.
    public static let minimumSecretBytes = 24

    /// `whsec_<base64>` (or the bare base64) → the HMAC key; base64 padding may be missing.
    public static func key(_ secret: String) -> SymmetricKey? {
        base64(secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret).map { SymmetricKey(data: $0) }
    }

    /// `{id}.{timestamp}.{body}`, the bytes every signature covers.
    public static func signedContent(id: String, timestamp: String, body: [UInt8]) -> [UInt8] {
        var content = Array("\(id).\(timestamp).".utf8)
        content.append(contentsOf: body)
        return content
    }

    /// The HMAC-SHA256 of the signed content under `key`.
    public static func mac(_ content: [UInt8], key: SymmetricKey) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: content, using: key))
    }

    /// One `v1,<base64>` entry of the `webhook-signature` header.
    public static func signature(_ content: [UInt8], key: SymmetricKey) -> String {
        "v1," + mac(content, key: key).base64EncodedString()
    }

    /// Base64 whose `=` padding may be missing, as secrets are often written.
    public static func base64(_ text: String) -> Data? {
        var text = text
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text)
    }
}
