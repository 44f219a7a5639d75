/// An events-stream entry the workers gave up on, as the dead-letter stream keeps it, and its
/// codec: a worker writes ``fields``, `postwire replay --from dead` reads them back with
/// ``init(fields:)`` and appends ``original`` to the events stream again.
///
/// Layout: the original entry's fields unchanged (see ``StreamEntryCodec``), plus these, all UTF-8
/// text; no original field starts with their prefix `dead_`:
/// - `dead_error`: why it was given up (an error description, or the retry budget spent).
/// - `dead_sqlstate`: the PostgreSQL error code, when PostgreSQL refused it.
/// - `dead_original_id`, `dead_stream`: where it was (entry id and stream name).
/// - `dead_consumer`: the consumer that gave up. `dead_deliveries`: how often it was delivered.
public struct DeadLetterEntry: Sendable, Equatable {
    public static let prefix = "dead_"

    /// The entry as it was in the events stream.
    public var original: [String: [UInt8]]
    public var error: String
    public var sqlState: String?
    public var originalId: String
    public var stream: String
    public var consumer: String
    public var deliveries: Int64?

    public init(
        original: [String: [UInt8]], error: String, sqlState: String? = nil, originalId: String, stream: String, consumer: String,
        deliveries: Int64? = nil
    ) {
        self.original = original
        self.error = error
        self.sqlState = sqlState
        self.originalId = originalId
        self.stream = stream
        self.consumer = consumer
        self.deliveries = deliveries
    }

    /// The stream entry's fields: the original ones sorted by name, then the `dead_` ones.
    public var fields: [(String, [UInt8])] {
        var fields = Self.sorted(original)
        fields.append(("dead_error", Array(error.utf8)))
        if let sqlState { fields.append(("dead_sqlstate", Array(sqlState.utf8))) }
        fields.append(("dead_original_id", Array(originalId.utf8)))
        fields.append(("dead_stream", Array(stream.utf8)))
        fields.append(("dead_consumer", Array(consumer.utf8)))
        if let deliveries { fields.append(("dead_deliveries", Array(String(deliveries).utf8))) }
        return fields
    }

    /// The original fields in the order ``fields`` writes them, ready to append again.
    public var originalFields: [(String, [UInt8])] { Self.sorted(original) }

    /// Reads an entry back; one without `dead_error` was not written by a worker and is refused.
    public init(fields: [String: [UInt8]]) throws(StreamEntryCodec.DecodingError) {
        func text(_ name: String) -> String? { fields[name].map { String(decoding: $0, as: UTF8.self) } }
        guard let error = text("dead_error") else { throw .missingField("dead_error") }
        self.init(
            original: fields.filter { !$0.key.hasPrefix(Self.prefix) }, error: error, sqlState: text("dead_sqlstate"),
            originalId: text("dead_original_id") ?? "", stream: text("dead_stream") ?? "", consumer: text("dead_consumer") ?? "",
            deliveries: text("dead_deliveries").flatMap(Int64.init))
    }

    private static func sorted(_ fields: [String: [UInt8]]) -> [(String, [UInt8])] {
        fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
