import EmailEvents
import Foundation
import PostgresNIO

/// One column of `email_events` as the batch writes it: its name (in the table and in the
/// `unnest` that carries the batch), the element type of the array it travels as, the expression
/// that turns the array's value into the column's, and how an event fills it.
///
/// PostgresNIO cannot bind arrays of optionals, so an absent text travels as `''` and `nullif`
/// turns it back into NULL (with a cast for integers and booleans).
struct EventColumn: Sendable {
    let name: String
    let arrayType: String
    let value: String
    let bind: @Sendable ([EmailEvent], inout PostgresBindings) throws -> Void

    /// Text that is always present.
    static func required(_ name: String, _ text: @escaping @Sendable (EmailEvent) -> String) -> EventColumn {
        EventColumn(name: name, arrayType: "text", value: name) { events, binds in try binds.append(events.map(text)) }
    }

    /// Text that may be absent, stored as NULL then; `cast` for columns that are not text.
    static func optional(_ name: String, cast: String? = nil, _ text: @escaping @Sendable (EmailEvent) -> String?) -> EventColumn {
        EventColumn(name: name, arrayType: "text", value: "nullif(\(name), '')" + (cast.map { "::" + $0 } ?? "")) { events, binds in
            try binds.append(events.map { text($0) ?? "" })
        }
    }

    /// JSON written by Swift, stored as `jsonb`.
    static func json(_ name: String, _ text: @escaping @Sendable (EmailEvent) -> String) -> EventColumn {
        EventColumn(name: name, arrayType: "text", value: "\(name)::jsonb") { events, binds in try binds.append(events.map(text)) }
    }

    static func time(_ name: String, _ date: @escaping @Sendable (EmailEvent) -> Date) -> EventColumn {
        EventColumn(name: name, arrayType: "timestamptz", value: name) { events, binds in try binds.append(events.map(date)) }
    }

    static func flag(_ name: String, _ flag: @escaping @Sendable (EmailEvent) -> Bool) -> EventColumn {
        EventColumn(name: name, arrayType: "boolean", value: name) { events, binds in try binds.append(events.map(flag)) }
    }
}

/// Every column the batch writes, in one place: the batch's `unnest`, the insert's column list and
/// its select list are generated from this table (``EventStore/insertNew(_:)``), so a new field of
/// ``EmailEvent`` is one entry here and a migration. Indexed text is capped (``StorageLimits``).
enum EventColumns {
    typealias Limits = StorageLimits

    static let all: [EventColumn] = [
        .required("provider") { $0.provider.rawValue },
        .required("event_key") { Limits.cap($0.eventKey, Limits.identifier) },
        .required("source") { $0.source },
        .required("event_type") { $0.type.rawValue },
        .required("esp_event") { Limits.cap($0.espEvent, Limits.label) },
        .optional("delivery_id") { Limits.cap($0.deliveryId, Limits.identifier) },
        .time("occurred_at") { $0.occurredAt },
        .time("received_at") { $0.receivedAt },
        .optional("message_id") { Limits.cap($0.messageId, Limits.identifier) },
        .optional("rfc_message_id") { Limits.cap($0.rfcMessageId, Limits.identifier) },
        .optional("recipient") { Limits.cap($0.recipient, Limits.address) },
        .optional("recipient_domain") { Limits.cap($0.recipientDomain, Limits.label) },
        .optional("sender") { Limits.cap($0.sender, Limits.address) },
        .optional("sender_domain") { Limits.cap($0.senderDomain, Limits.label) },
        .optional("bounce_class") { $0.bounceClass?.rawValue },
        .optional("reject_reason") { $0.rejectReason?.rawValue },
        .optional("smtp_code", cast: "integer") { $0.smtpCode.map(String.init) },
        .optional("enhanced_status") { $0.enhancedStatus },
        .optional("mta_response") { $0.mtaResponse },
        .optional("description") { $0.description },
        .json("tags") { EventJSON.json($0.tags) },
        .json("metadata") { EventJSON.json($0.metadata) },
        .optional("campaign") { Limits.cap($0.campaign, Limits.label) },
        .optional("click_url") { $0.clickURL },
        .optional("user_agent") { $0.userAgent },
        .optional("ip") { $0.ip },
        .optional("is_first", cast: "boolean") { $0.isFirst.map { $0 ? "true" : "false" } },
        .optional("is_machine_open", cast: "boolean") { $0.isMachineOpen.map { $0 ? "true" : "false" } },
        // An event no worker classified (a direct write) counts by the ESP's own flag.
        .optional("machine", cast: "boolean") { EngagementRules.storedVerdict(of: $0).map { $0.isMachine ? "true" : "false" } },
        .optional("engagement_reason") { EngagementRules.storedVerdict(of: $0)?.reason },
        .flag("occurred_at_estimated") { $0.occurredAtEstimated ?? false },
        .json("raw") { String(decoding: $0.raw, as: UTF8.self) },
    ]

    /// `unnest($1::text[], …) AS t(provider, …)`: the batch as rows, one array per column.
    static let unnest: String = {
        let arrays = all.enumerated().map { "$\($0.offset + 1)::\($0.element.arrayType)[]" }
        return "unnest(\(arrays.joined(separator: ", "))) AS t(\(names))"
    }()

    /// The column names, in table order.
    static let names = all.map(\.name).joined(separator: ", ")

    /// What the insert selects from the unnested rows, column by column.
    static let values = all.map(\.value).joined(separator: ", ")

    /// The batch's arrays, bound in the order of ``unnest``.
    static func bindings(_ events: [EmailEvent]) throws -> PostgresBindings {
        var binds = PostgresBindings(capacity: all.count)
        for column in all { try column.bind(events, &binds) }
        return binds
    }
}
