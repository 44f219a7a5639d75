import Crypto
import EventStore
import Foundation

/// Standard Webhooks signing (https://www.standardwebhooks.com): `webhook-signature` is `v1,` and
/// the base64 of HMAC-SHA256 over `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the
/// secret's decoded bytes; several secrets (a rotation) give several signatures, space-separated,
/// and a receiver accepts the request when one of them verifies.
public enum WebhookSigner {
    public static func signature(id: String, timestamp: Int64, body: [UInt8], secrets: [String]) -> String {
        var message = Array("\(id).\(timestamp).".utf8)
        message.append(contentsOf: body)
        return secrets.compactMap { secret -> String? in
            guard let key = WebhookSecret.key(of: secret) else { return nil }
            let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))
            return "v1," + Data(mac).base64EncodedString()
        }.joined(separator: " ")
    }

    /// The `webhook-id` of a request: the event's own id when it carries one event, else one derived
    /// from the deliveries it carries. Retries regroup a batch's deliveries, so a batch's id names
    /// that set only; receivers deduplicate on each event's `data.id`.
    public static func requestID(_ deliveries: [ClaimedDelivery]) -> String {
        if deliveries.count == 1 { return deliveries[0].eventID }
        let digest = SHA256.hash(data: Array(deliveries.map { String($0.id) }.joined(separator: ",").utf8))
        return "batch_" + digest.prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// The body: one payload, or a JSON array of them.
    public static func body(_ payloads: [String], batched: Bool) -> [UInt8] {
        guard batched else { return Array((payloads.first ?? "{}").utf8) }
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        for (index, payload) in payloads.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(contentsOf: payload.utf8)
        }
        bytes.append(UInt8(ascii: "]"))
        return bytes
    }
}
