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

    /// Two batches that both bring a message new to the database, written at the same time: one
    /// inserts its row, the other conflicts, waits for that commit and updates it. Whichever wins,
    /// the message's first open counts once, in the hour of the earliest open, and its timeline
    /// holds all four events.
    @Test func concurrentBatchesCreatingTheSameMessageCountItOnce() async throws {
        try await TestEnvironment.withDatabase { _, store in
            func event(_ key: String, _ type: EventType, hour: Int64, message: String) -> EmailEvent {
                var event = Self.event(key, type: type, hour: hour)
                event.messageId = message
                return event
            }
            let rounds = 8, messages = 25
            for round in 0..<rounds {
                let ids = (0..<messages).map { "r\(round)-m\($0)" }
                // A: delivered, then opened two hours later. B: opened one hour in, clicked at three.
                let a = ids.flatMap {
                    [event("\($0)-d", .delivered, hour: 0, message: $0), event("\($0)-o2", .opened, hour: 2, message: $0)]
                }
                let b = ids.flatMap {
                    [event("\($0)-o1", .opened, hour: 1, message: $0), event("\($0)-c3", .clicked, hour: 3, message: $0)]
                }
                async let first = store.write(a)
                async let second = store.write(b)
                let results = try await [first, second]
                #expect(results.map(\.stored) == [2 * messages, 2 * messages])
            }
            let total = rounds * messages
            let hour0 = Int64(1_699_999_200)
            var uniques: [String: Int64] = [:]
            for try await (kind, hour, count) in try await store.client.query(
                "SELECT kind, extract(epoch FROM hour)::int8, sum(count)::int8 FROM unique_counts_hourly GROUP BY 1, 2",
                logger: TestEnvironment.logger
            ).decode((String, Int64, Int64).self) where count != 0 {
                uniques["\(kind)@\((hour - hour0) / 3600)"] = count
            }
            // No machine flag on any of them: people's, so the human firsts are the same.
            #expect(
                uniques == [
                    "open@1": Int64(total), "click@3": Int64(total), "human_open@1": Int64(total), "human_click@3": Int64(total),
                ])
            var timelines = 0, wrong = 0
            for try await (opens, clicks, events, firstOpenHour, delivered) in try await store.client.query(
                """
                SELECT opens, clicks, events, (extract(epoch FROM first_opened_at)::int8 - \(hour0)) / 3600,
                       delivered_at IS NOT NULL
                FROM message_status
                """,
                logger: TestEnvironment.logger
            ).decode((Int32, Int32, Int32, Int64, Bool).self) {
                if !(opens == 2 && clicks == 1 && events == 4 && firstOpenHour == 1 && delivered) { wrong += 1 }
                timelines += 1
            }
            #expect(timelines == total)
            #expect(wrong == 0, "timelines other than 2 opens (first in hour 1), 1 click, 4 events, delivered")
        }
    }

    /// Each event's receive-to-commit delay counts in the smallest histogram bound at or above it;
    /// a delay past the last bound, in the overflow bucket; a receive time in the future, in the
    /// first.
    @Test func delayHistogramBucketsEachEventByItsBound() async throws {
        try await TestEnvironment.withDatabase { _, store in
            let now = Date()
            var events: [EmailEvent] = []
            for (n, secondsAgo) in ([-5, 0.2, 2, 2, 40, 3000, 3 * 86_400] as [Double]).enumerated() {
                var event = Self.event("delay-\(n)")
                event.receivedAt = now - secondsAgo
                events.append(event)
            }
            _ = try await store.write(events)
            var buckets: [Int64: Int64] = [:]
            let rows = try await store.client.query(
                "SELECT le_ms, count FROM processing_delay_hourly", logger: TestEnvironment.logger)
            for try await (bound, count) in rows.decode((Int64, Int64).self) { buckets[bound, default: 0] += count }
            // 0.2 s is at most 250 ms unless the write took 50 ms; 2 s at most 2,500 ms; 40 s, 60,000.
            #expect(buckets[50] == 1)
            #expect(buckets[250] == 1)
            #expect(buckets[2500] == 2)
            #expect(buckets[60_000] == 1)
            #expect(buckets[3_600_000] == 1)
            #expect(buckets[Int64.max] == 1)
            #expect(buckets.values.reduce(0, +) == 7)
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
