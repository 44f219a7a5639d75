import EmailEvents
import EventStore
import Foundation
import PostgresNIO
import Testing

@Suite struct EventStoreIntegrationTests {
    static func event(_ key: String, type: EventType = .delivered, hour: Int64 = 0, domain: String = "example.com") -> EmailEvent {
        var event = EmailEvent(
            provider: .sendgrid, source: "default", type: type, espEvent: type.rawValue, eventKey: key,
            occurredAt: Date(unixMicroseconds: (1_700_000_000 + hour * 3600) * 1_000_000 + 123_456),
            receivedAt: Date(unixMicroseconds: 1_700_100_000_000_000), raw: Array(#"{"k":"\#(key)","s":"Jos\u00e9"}"#.utf8)
        )
        event.setRecipient("someone@\(domain)")
        event.tags = ["a", "b"]
        event.metadata = ["campaign": "c1"]
        event.campaign = "c1"
        event.smtpCode = 250
        event.isMachineOpen = false
        return event
    }

    @Test func migrationsAreIdempotent() async throws {
        try await TestEnvironment.withDatabase { _, store in
            #expect(try await store.schemaVersion() == EventStore.latestVersion)
            #expect(try await store.migrate() == [])
            // Concurrent migrators serialize on the advisory lock.
            try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<3 { group.addTask { try await store.migrate() } }
                for try await applied in group { #expect(applied == []) }
            }
        }
    }

    @Test func batchWriteCountsEachKeyOnce() async throws {
        try await TestEnvironment.withDatabase { _, store in
            // Duplicates inside one batch and across batches.
            let first = [Self.event("a"), Self.event("b", type: .opened), Self.event("a"), Self.event("c", hour: 1, domain: "corp.test")]
            #expect(try await store.write(first) == BatchWriteResult(stored: 3, duplicates: 1))
            #expect(try await store.write([Self.event("b", type: .opened), Self.event("d")]) == BatchWriteResult(stored: 1, duplicates: 1))
            #expect(try await store.write(first) == BatchWriteResult(stored: 0, duplicates: 4))
            #expect(try await store.eventCount() == 4)

            let counts = try await store.hourlyCounts()
            let hour0 = Date(timeIntervalSince1970: 1_699_999_200)  // 1_700_000_000 floored to the hour
            #expect(
                counts == [
                    HourlyCount(
                        hour: hour0, provider: "sendgrid", source: "default", eventType: "delivered", senderDomain: "",
                        recipientDomain: "example.com", campaign: "c1", count: 2),
                    HourlyCount(
                        hour: hour0, provider: "sendgrid", source: "default", eventType: "opened", senderDomain: "",
                        recipientDomain: "example.com", campaign: "c1", count: 1),
                    HourlyCount(
                        hour: hour0 + 3600, provider: "sendgrid", source: "default", eventType: "delivered", senderDomain: "",
                        recipientDomain: "corp.test", campaign: "c1", count: 1),
                ])
        }
    }

    @Test func storedRowKeepsTheNormalizedColumns() async throws {
        try await TestEnvironment.withDatabase { _, store in
            _ = try await store.write([Self.event("z")])
            let rows = try await store.client.query(
                "SELECT recipient, recipient_domain, smtp_code, is_machine_open, is_first, tags::text, raw->>'s', occurred_at, sender FROM email_events",
                logger: TestEnvironment.logger
            )
            var seen = 0
            for try await (recipient, domain, code, machine, first, tags, raw, occurred, sender) in rows.decode(
                (String, String, Int, Bool, Bool?, String, String, Date, String?).self)
            {
                #expect(recipient == "someone@example.com")
                #expect(domain == "example.com")
                #expect(code == 250)
                #expect(machine == false)
                #expect(first == nil)
                #expect(tags == #"["a", "b"]"#)
                #expect(raw == "José")
                #expect(occurred.unixMicroseconds == 1_700_000_000_123_456)
                #expect(sender == nil)
                seen += 1
            }
            #expect(seen == 1)
        }
    }
}
