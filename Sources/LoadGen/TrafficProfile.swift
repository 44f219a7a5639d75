import Foundation
import ProviderSamples

/// Whom the events are about. The worker's cost of an event depends less on its bytes than on
/// whether its message and its recipient are new (rows to insert into message_status and
/// recipient_engagement) or known (rows to update), so a benchmark says which it sent.
public enum TrafficProfile: String, CaseIterable, Sendable {
    /// Each event of a random kind, its message id made from its event id (SendGrid's from the
    /// first 22 characters, which events of one batch can share), its recipient one of
    /// 100,000: what the load generator sent before it had profiles.
    case random
    /// Each event a new message to a new recipient: the most rows an event can make.
    case worst
    /// About five events a message (sent, delivered, opens and clicks that repeat; one in twenty
    /// bounces), the events of 200 messages in flight per connection interleaved, recipients
    /// drawn from a list of 50,000 that every run mails again.
    case typical

    public var summary: String {
        switch self {
        case .random: "each event a random kind; message ids from the event ids; recipients from 100,000"
        case .worst: "each event a new message to a new recipient"
        case .typical: "about 5 events a message, opens and clicks repeating, 5 % bounces; recipients from 50,000"
        }
    }
}

/// The events of one message as it lives: what its ESP will report about it, in order.
struct MessageLife {
    let id: String
    let recipient: String
    var kinds: [(String, [String: String])]

    static let listSize = 50_000
    static let inFlight = 200

    /// A new message's life for `provider`: sent, then bounced (one in twenty) or delivered and
    /// opened 0 to 4 times, clicked 0 to 2 times if opened. About 4.7 events on average.
    static func make<G: RandomNumberGenerator>(id: String, provider: String, using random: inout G) -> MessageLife {
        let recipient = "list\(Int.random(in: 0..<listSize, using: &random))@example.com"
        let sendgrid = provider == "sendgrid"
        let sent: (String, [String: String]) = sendgrid ? ("processed", [:]) : ("accepted", [:])
        if Int.random(in: 0..<20, using: &random) == 0 {
            let bounce: (String, [String: String]) =
                sendgrid ? ("bounce", ["type": "bounce"]) : ("failed", ["severity": "permanent", "reason": "bounce"])
            return MessageLife(id: id, recipient: recipient, kinds: [sent, bounce])
        }
        let opens = Int.random(in: 0...4, using: &random)
        let clicks = opens > 0 ? Int.random(in: 0...2, using: &random) : 0
        let open: (String, [String: String]) = sendgrid ? ("open", [:]) : ("opened", [:])
        let click: (String, [String: String]) = sendgrid ? ("click", [:]) : ("clicked", [:])
        return MessageLife(
            id: id, recipient: recipient,
            kinds: [sent, ("delivered", [:])] + Array(repeating: open, count: opens) + Array(repeating: click, count: clicks))
    }
}
