import EmailEvents
import EventStore
import Foundation
import PostgresNIO
import Testing

/// The click timing rules (docs/ANALYTICS.md) when the events that decide arrive later, in
/// another batch: a click before its message's delivery, a sweep of links split over two batches.
/// The verdict changes for the stored click and every count follows; a replay changes nothing.
@Suite struct ClickTimingTests {
    static let base = Date(timeIntervalSince1970: 1_790_900_000)

    static func event(_ key: String, _ type: EventType, at seconds: Double, message: String) -> EmailEvent {
        var event = EmailEvent(
            provider: .mailgun, source: "default", type: type, espEvent: type.rawValue, eventKey: key,
            occurredAt: base.addingTimeInterval(seconds), receivedAt: base.addingTimeInterval(seconds + 5), raw: Array("{}".utf8))
        event.messageId = message
        event.setRecipient("Reader@Example.test")
        event.setSender("news@shop.test")
        if type == .clicked || type == .opened { EngagementRules().classify(&event) }
        return event
    }

    /// Machine clicks of the hourly rollup, people's clicks and first click (ms after `base`) of the message,
    /// unique human clicks, the recipient's machine clicks, the stored verdicts.
    static func state(_ store: EventStore, message: String) async throws -> [String] {
        var out: [String] = []
        let queries = [
            "SELECT coalesce(sum(machine), 0)::text FROM event_counts_hourly WHERE event_type = 'clicked'",
            "SELECT human_clicks || ' ' || coalesce(((extract(epoch FROM first_human_clicked_at) - \(Int(base.timeIntervalSince1970))) * 1000)::int8::text, '-') FROM message_status WHERE message_id = '\(message)'",
            "SELECT coalesce(sum(count), 0)::text FROM unique_counts_hourly WHERE kind = 'human_click'",
            "SELECT machine_clicks::text FROM recipient_engagement WHERE address = 'reader@example.test'",
            "SELECT string_agg(event_key || '=' || engagement_reason, ',' ORDER BY event_key) FROM email_events WHERE event_type = 'clicked'",
        ]
        for sql in queries {
            for try await text in try await store.client.query(PostgresQuery(unsafeSQL: sql), logger: TestEnvironment.logger).decode(
                String?.self)
            {
                out.append(text ?? "-")
            }
        }
        return out
    }

    @Test func aClickBeforeItsDeliveryIsJudgedAgainWhenTheDeliveryArrives() async throws {
        try await TestEnvironment.withDatabase { _, store in
            let click = Self.event("c1", .clicked, at: 1.5, message: "m1")
            _ = try await store.write([click])
            let first = try await Self.state(store, message: "m1")
            #expect(first == ["0", "1 1500", "1", "0", "c1=no_machine_signal"], "\(first)")
            _ = try await store.write([Self.event("d1", .delivered, at: 0, message: "m1")])
            let after = try await Self.state(store, message: "m1")
            #expect(after == ["1", "0 -", "0", "1", "c1=timing:soon_after_delivery"], "\(after)")
            // A person's click later on stays a person's; a replay of all changes nothing.
            _ = try await store.write([Self.event("c2", .clicked, at: 600, message: "m1")])
            _ = try await store.write([click, Self.event("d1", .delivered, at: 0, message: "m1")])
            let final = try await Self.state(store, message: "m1")
            #expect(final == ["1", "1 600000", "1", "1", "c1=timing:soon_after_delivery,c2=no_machine_signal"], "\(final)")
        }
    }

    @Test func aSweepSplitOverTwoBatchesIsAScannersEveryClick() async throws {
        try await TestEnvironment.withDatabase { _, store in
            _ = try await store.write([Self.event("d", .delivered, at: 0, message: "m2")])
            _ = try await store.write([
                Self.event("s1", .clicked, at: 300, message: "m2"), Self.event("s2", .clicked, at: 300.2, message: "m2"),
            ])
            let two = try await Self.state(store, message: "m2")
            #expect(two == ["0", "2 300000", "1", "0", "s1=no_machine_signal,s2=no_machine_signal"], "\(two)")
            _ = try await store.write([Self.event("s3", .clicked, at: 300.4, message: "m2")])
            let three = try await Self.state(store, message: "m2")
            #expect(three == ["3", "0 -", "0", "3", "s1=timing:click_burst,s2=timing:click_burst,s3=timing:click_burst"], "\(three)")
            // A click by a known scanner agent keeps its own reason inside a sweep.
            var agent = Self.event("s4", .clicked, at: 300.5, message: "m2")
            agent.userAgent = "python-requests/2.31"
            agent.isMachine = nil
            EngagementRules().classify(&agent)
            _ = try await store.write([agent])
            let four = try await Self.state(store, message: "m2")
            #expect(four.last == "s1=timing:click_burst,s2=timing:click_burst,s3=timing:click_burst,s4=user_agent:http_library")
            #expect(four[0] == "4" && four[3] == "4")
        }
    }

    @Test func theRulesOffLeaveClicksToTheirOwnVerdict() async throws {
        try await TestEnvironment.withDatabase { database, _ in
            try await TestEnvironment.withClient(database: database) { client in
                let store = EventStore(
                    client: client, logger: TestEnvironment.logger, policy: AnalyticsPolicy(scannerClickSeconds: 0, clickBurstCount: 0))
                _ = try await store.write([
                    Self.event("d", .delivered, at: 0, message: "m3"), Self.event("c", .clicked, at: 0.5, message: "m3"),
                ])
                #expect(try await Self.state(store, message: "m3").last == "c=no_machine_signal")
            }
        }
    }
}
