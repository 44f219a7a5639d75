import Foundation

/// Encodes an ``EmailEvent`` as the fields of one Redis stream entry, and back.
///
/// Layout, version 1:
/// - `v`: `"1"`, the codec version; a decoder refuses versions it does not know (the entry is
///   dead-lettered, never guessed at).
/// - `p`, `s`, `k`: provider, source and event key, readable without decoding (replay filters,
///   debugging with `redis-cli`).
/// - `e`: the event as JSON, without `raw`; times as integer microseconds since 1970.
/// - `r`: the ESP's raw JSON bytes, kept out of `e` so they are never re-escaped.
public enum StreamEntryCodec {
    public static let version = "1"

    public enum DecodingError: Error, Equatable, CustomStringConvertible {
        case unsupportedVersion(String?)
        case missingField(String)
        case invalidEvent(String)

        public var description: String {
            switch self {
            case .unsupportedVersion(let v): "unsupported stream entry version \(v ?? "(none)")"
            case .missingField(let f): "stream entry has no field \(f)"
            case .invalidEvent(let reason): "stream entry event does not decode: \(reason)"
            }
        }
    }

    public static func encode(_ event: EmailEvent) -> [(String, [UInt8])] {
        let json = EventJSON.encode(event)
        return [
            ("v", Array(version.utf8)),
            ("p", Array(event.provider.rawValue.utf8)),
            ("s", Array(event.source.utf8)),
            ("k", Array(event.eventKey.utf8)),
            ("e", Array(json)),
            ("r", event.raw),
        ]
    }

    public static func decode(_ fields: [String: [UInt8]]) throws(DecodingError) -> EmailEvent {
        let v = fields["v"].map { String(decoding: $0, as: UTF8.self) }
        guard v == version else { throw .unsupportedVersion(v) }
        guard let json = fields["e"] else { throw .missingField("e") }
        guard let raw = fields["r"] else { throw .missingField("r") }
        if var event = try? EventJSONReader.decode(json) {
            event.raw = raw
            return event
        }
        do {
            var event = try decoder.decode(EmailEvent.self, from: Data(json))
            event.raw = raw
            return event
        } catch {
            throw .invalidEvent(String(describing: error))
        }
    }

    // What EventJSONReader does not read (entries it was not written for) goes to JSONDecoder, which
    // decides. Made once: building a decoder per entry costs as much as decoding. Sendable, and
    // keeps no state between calls.
    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let micros = try decoder.singleValueContainer().decode(Int64.self)
            return Date(unixMicroseconds: micros)
        }
        return decoder
    }()
}
