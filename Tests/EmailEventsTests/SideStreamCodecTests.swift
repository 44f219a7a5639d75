import Foundation
import Testing

@testable import EmailEvents

/// The quarantine and dead-letter entries: what the ingress and the worker write is what
/// `postwire replay` reads back.
@Suite struct SideStreamCodecTests {
    static func dictionary(_ fields: [(String, [UInt8])]) -> [String: [UInt8]] {
        Dictionary(fields, uniquingKeysWith: { _, last in last })
    }

    @Test func aQuarantinedElementReadsBackAsWritten() throws {
        let entry = QuarantineEntry(
            provider: "sendgrid", source: "eu", reason: "element 3: event object has no event", contentType: "application/json",
            receivedAt: Date(unixMicroseconds: 1_700_000_000_123_456), body: Array(#"[{"email":"a@b.c"}]"#.utf8),
            headers: ["x-request-id": "r1", "user-agent": "SendGrid Event API"], index: 3)
        let fields = entry.fields
        #expect(fields.map(\.0) == ["v", "p", "s", "reason", "content_type", "received_at", "body", "headers", "index"])
        #expect(try QuarantineEntry(fields: Self.dictionary(fields)) == entry)
    }

    @Test func credentialsAreNotKeptButEverythingElseIs() throws {
        var entry = QuarantineEntry(
            provider: "resend", source: "default", reason: "bad", contentType: "application/json", receivedAt: Date(), body: [0xff])
        entry.headers = [
            "authorization": "Bearer secret", "cookie": "c", "svix-signature": "v1,abc", "x-api-key": "k", "X-Api-Key": "k",
            "Proxy-Authorization": "Basic x", "svix-id": "msg_1",
            "content-type": "x",
        ]
        let read = try QuarantineEntry(fields: Self.dictionary(entry.fields))
        #expect(read.headers == ["svix-id": "msg_1", "content-type": "x"])
        #expect(read.body == [0xff] && read.index == nil)
    }

    @Test func aQuarantineEntryOfAnotherVersionOrWithoutItsBodyIsRefused() throws {
        var fields = Self.dictionary(
            QuarantineEntry(provider: "mailgun", source: "d", reason: "r", contentType: "", receivedAt: Date(), body: []).fields)
        fields["v"] = Array("2".utf8)
        #expect(throws: StreamEntryCodec.DecodingError.unsupportedVersion("2")) { try QuarantineEntry(fields: fields) }
        fields["v"] = nil
        #expect(try QuarantineEntry(fields: fields).provider == "mailgun", "an entry without v reads as version 1")
        fields["body"] = nil
        #expect(throws: StreamEntryCodec.DecodingError.missingField("body")) { try QuarantineEntry(fields: fields) }
        #expect(throws: StreamEntryCodec.DecodingError.missingField("p")) { try QuarantineEntry(fields: ["body": []]) }
    }

    @Test func aDeadLetterGivesBackTheOriginalEntryExactly() throws {
        let original = Self.dictionary(StreamEntryCodec.encode(StreamEntryCodecTests.fullEvent()))
        let dead = DeadLetterEntry(
            original: original, error: "index row size exceeds maximum", sqlState: "54000", originalId: "1700000000000-7",
            stream: "postwire:events", consumer: "host-1-ab", deliveries: 3)
        let fields = dead.fields
        #expect(
            fields.suffix(6).map(\.0) == [
                "dead_error", "dead_sqlstate", "dead_original_id", "dead_stream", "dead_consumer", "dead_deliveries",
            ])
        let read = try DeadLetterEntry(fields: Self.dictionary(fields))
        #expect(read == dead)
        #expect(read.originalFields.map(\.0) == original.keys.sorted())
        #expect(try StreamEntryCodec.decode(Self.dictionary(read.originalFields)) == StreamEntryCodecTests.fullEvent())
    }

    @Test func optionalDeadLetterFieldsStayAbsentAndAnEntryWithoutAnErrorIsRefused() throws {
        let dead = DeadLetterEntry(original: ["v": Array("9".utf8)], error: "unsupported", originalId: "1-1", stream: "s", consumer: "c")
        let fields = Self.dictionary(dead.fields)
        #expect(fields["dead_sqlstate"] == nil && fields["dead_deliveries"] == nil)
        #expect(try DeadLetterEntry(fields: fields) == dead)
        #expect(throws: StreamEntryCodec.DecodingError.missingField("dead_error")) { try DeadLetterEntry(fields: ["v": []]) }
    }
}
