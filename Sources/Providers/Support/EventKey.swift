import Crypto

/// Event keys for ESPs that send no per-event id (docs/PROVIDERS.md §13.3): a hash of the fields
/// that identify the event, the same on every retry of it.
enum EventKey {
    static func derived(_ parts: [String?]) -> String {
        let joined = parts.map { $0 ?? "" }.joined(separator: "\u{1F}")
        return "h:" + Hex.encode(SHA256.hash(data: Array(joined.utf8)).prefix(16))
    }

    /// For an event with neither an id nor the fields `derived` needs: a hash of its own bytes,
    /// which an ESP's retry repeats.
    static func content(_ raw: [UInt8]) -> String {
        "c:" + Hex.encode(SHA256.hash(data: raw).prefix(16))
    }
}
