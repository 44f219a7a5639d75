import Crypto
import EventStore
import Foundation
import WebhookSigning

/// What the dispatcher sends, signed as Standard Webhooks (``StandardWebhooksHMAC``): several
/// secrets (a rotation) give several signatures, space-separated, and a receiver accepts the
/// request when one of them verifies.
public enum WebhookSigner {
    public static func signature(id: String, timestamp: Int64, body: [UInt8], secrets: [String]) -> String {
        let content = StandardWebhooksHMAC.signedContent(id: id, timestamp: String(timestamp), body: body)
        return secrets.compactMap { secret in
            WebhookSecret.key(of: secret).map { StandardWebhooksHMAC.signature(content, key: $0) }
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
