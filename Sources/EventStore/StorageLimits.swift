import Crypto
import EmailEvents

/// Lengths of the text columns PostgreSQL indexes, and the one way values are cut to them.
///
/// A btree entry may not exceed about 2,700 bytes (SQLSTATE 54000): a 6,000-character message id
/// from a webhook would make every batch that holds it fail. Values are capped before they are
/// bound, so no input can reach that limit; the rollup keys (sender domain, recipient domain,
/// campaign together) stay well under it too. The full value is still in `raw`.
///
/// A longer value keeps its first bytes and ends in `~` and a SHA-256 prefix of the whole value:
/// deterministic (a retry caps the same way, so it still deduplicates) and distinct for distinct
/// values (two long event keys sharing a prefix are not merged).
enum StorageLimits {
    /// `event_key`, `message_id`, `rfc_message_id`, `delivery_id`.
    static let identifier = 512
    /// `recipient`, `sender`: an address is at most 320 bytes (64 + 1 + 255).
    static let address = 320
    /// `recipient_domain`, `sender_domain`, `campaign`, `esp_event`.
    static let label = 255

    static func cap(_ value: String, _ limit: Int) -> String {
        let utf8 = value.utf8
        guard utf8.count > limit else { return value }
        let digest = Hex.lowercase(SHA256.hash(data: Array(utf8)).prefix(16))
        var end = utf8.index(utf8.startIndex, offsetBy: limit - digest.count - 1)
        // Cut before a continuation byte's scalar, so the prefix stays valid UTF-8.
        while end > utf8.startIndex, utf8[end] & 0xC0 == 0x80 { end = utf8.index(before: end) }
        return String(decoding: utf8[..<end], as: UTF8.self) + "~" + digest
    }

    static func cap(_ value: String?, _ limit: Int) -> String? {
        value.map { cap($0, limit) }
    }

    private enum Hex {
        static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
            let digits = Array("0123456789abcdef".utf8)
            var out: [UInt8] = []
            for byte in bytes {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0f)])
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
