import EmailEvents
import Foundation
import PostwireConfig

/// A generated month of normalized events across providers, sending and recipient domains and
/// campaigns, with what the analytic tables must then hold, computed here from the generator's own
/// knowledge (docs/ANALYTICS.md's rules written out again), not by the SQL under test.
struct MonthOfEvents {
    /// What the generator decided for one message.
    struct Message {
        var provider: Provider
        var source: String
        var id: String
        var recipient: String
        var senderDomain: String
        var campaign: String?
        var events: [EmailEvent] = []
    }

    static let start = Date(timeIntervalSince1970: 1_790_812_800)  // 2026-10-01T00:00:00Z
    static let senderDomains = ["news.shop.test", "mail.bank.test", "spammy.test"]
    static let recipientDomains = ["gmail.test", "yahoo.test", "corp.test"]

    var messages: [Message] = []
    /// The opens and clicks the generator made a machine's (by event key): the truth the
    /// engagement counts must equal. Each is made so by one of the mechanisms below, never by a
    /// field the rules would not see.
    var machineKeys: Set<String> = []

    /// A person's phone, and the machines' ways: the ESP's flag, a proxy's user agent, Apple's bare
    /// one, a configured proxy network (opens), a scanner's user agent and network (clicks).
    static let personAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
    static let gmailProxyAgent = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
    static let scannerAgent = "python-requests/2.31.0"
    /// Configured as a network of opens only, and one of clicks only (``configure(_:)``): a click
    /// from the proxy network and an open from the scanner network are people's.
    static let proxyNetwork = "198.51.100.0/24"
    static let scannerNetwork = "192.0.2.0/24"

    /// The mailbox providers of the month's recipient domains (corp.test is nobody's: `other`).
    static let mailboxProviders = ["gmail.test": "gmail", "yahoo.test": "yahoo", "corp.test": "other"]

    /// The engagement and mailbox-provider settings the truth assumes.
    static func configure(_ analytics: inout AnalyticsSettings) {
        analytics.mailboxProviders = [
            MailboxProviderSetting(provider: "gmail", domains: ["gmail.test"]),
            MailboxProviderSetting(provider: "yahoo", domains: ["*.yahoo.test"]),
        ]
        analytics.machineNetworks = [
            MachineNetwork(name: "test_proxy", ranges: [proxyNetwork], events: ["opened"]),
            MachineNetwork(name: "test_scanner", ranges: [scannerNetwork], events: ["clicked"]),
        ]
    }

    /// `count` messages spread over 30 days. news.shop.test is clean; mail.bank.test bounces a lot
    /// (and mails the "flaky" addresses, which soft-bounce half the time); spammy.test draws complaints.
    init(messages count: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var machineMade = Set<String>()
        let addresses = (0..<600).map { "user\($0)@\(Self.recipientDomains[$0 % 3])" }
        let flaky = Set(addresses.prefix(24))
        for n in 0..<count {
            var recipient = addresses[Int(random.next() % UInt64(addresses.count))]
            let senderDomain: String
            if flaky.contains(recipient) {
                senderDomain = "mail.bank.test"
            } else {
                let pick = random.next() % 10
                senderDomain = pick < 5 ? "news.shop.test" : pick < 8 ? "mail.bank.test" : "spammy.test"
                if flaky.contains(recipient) == false, senderDomain == "mail.bank.test", random.unit() < 0.2 {
                    recipient = recipient.uppercased()  // addresses arrive in any case; they count lower-cased
                }
            }
            let provider: Provider = [.sendgrid, .mailgun, .postmark][n % 3]
            let source = provider == .mailgun && n % 2 == 0 ? "eu" : "default"
            var message = Message(
                provider: provider, source: source, id: "msg-\(seed)-\(n)", recipient: recipient, senderDomain: senderDomain)
            let mechanism = n % 5
            message.campaign = ["spring", "fall", "winter", nil, "spring"][mechanism]
            let t0 = Self.start.addingTimeInterval(Double(random.next() % (30 * 86400)))
            var seconds = 0.0
            func add(_ type: EventType, after: Double, _ configure: (inout EmailEvent) -> Void = { _ in }) {
                seconds += after
                var event = EmailEvent(
                    provider: provider, source: source, type: type, espEvent: type.rawValue,
                    eventKey: "\(message.id)-\(message.events.count)", occurredAt: t0.addingTimeInterval(seconds), receivedAt: Date(),
                    raw: Array("{}".utf8))
                event.messageId = message.id
                event.setRecipient(recipient)
                event.setSender("news@\(senderDomain)")
                // The campaign travels the way different ESPs carry it; the rule picks it up.
                switch mechanism {
                case 0: event.campaign = "spring"  // the ESP's own campaign field
                case 1: event.metadata = ["campaign": "fall"]
                case 2: event.tags = ["newsletter", "campaign:winter"]
                case 3: event.tags = ["newsletter"]
                default:  // both: the ESP's field wins over metadata
                    event.campaign = "spring"
                    event.metadata = ["campaign": "other"]
                }
                configure(&event)
                message.events.append(event)
            }
            if random.unit() < 0.5 { add(.queued, after: 0) }
            if random.unit() < 0.1 { add(.deferred, after: 60) }
            let bounce = random.unit()
            let (hard, soft): (Double, Double) =
                flaky.contains(recipient) ? (0, 0.5) : senderDomain == "mail.bank.test" ? (0.04, 0.08) : (0.005, 0.005)
            if bounce < hard {
                add(.bounced, after: 120) {
                    $0.bounceClass = .hard
                    ($0.smtpCode, $0.enhancedStatus, $0.description) = (550, "5.1.1", "user unknown")
                }
            } else if bounce < hard + soft {
                add(.bounced, after: 120) {
                    $0.bounceClass = .soft
                    ($0.smtpCode, $0.enhancedStatus, $0.description) =
                        random.unit() < 0.5 ? (452, "4.2.2", "mailbox full") : (421, "4.7.0", "try again later")
                }
            } else {
                add(.delivered, after: 120)
                // Scanners that look like people: a gateway following a link a second after
                // delivery, or sweeping three or four links within half a second later on.
                func scannerClick(after: Double) {
                    add(.clicked, after: after) { event in
                        event.userAgent = Self.personAgent
                        event.ip = "203.0.113.200"
                        machineMade.insert(event.eventKey)
                    }
                }
                if random.unit() < 0.05 { scannerClick(after: 1) }
                let sweep = random.unit() < 0.06 ? 3 + Int(random.next() % 2) : 0
                let opens = Int(random.next() % 4)
                for _ in 0..<opens {
                    let (machine, way, host) = (random.unit() < 0.3, random.next() % 4, random.next() % 250)
                    add(.opened, after: 600 + Double(random.next() % 3000)) { event in
                        event.userAgent = Self.personAgent
                        event.isMachineOpen = false
                        // A person may read from the scanner network: that rule is for clicks.
                        event.ip = host % 3 == 0 ? "192.0.2.\(host)" : "203.0.113.\(host)"
                        guard machine else { return }
                        switch way {
                        case 0: event.isMachineOpen = true
                        case 1: event.userAgent = Self.gmailProxyAgent
                        case 2: event.userAgent = "Mozilla/5.0"
                        default: event.ip = "198.51.100.\(host)"
                        }
                        machineMade.insert(event.eventKey)
                    }
                }
                if opens > 0 {
                    for _ in 0..<Int(random.next() % 3) {
                        let (machine, way, host) = (random.unit() < 0.25, random.next() % 2, random.next() % 250)
                        add(.clicked, after: 60 + Double(random.next() % 600)) { event in
                            event.userAgent = Self.personAgent
                            event.ip = host % 3 == 0 ? "198.51.100.\(host)" : "203.0.113.\(host)"
                            guard machine else { return }
                            if way == 0 { event.userAgent = Self.scannerAgent } else { event.ip = "192.0.2.\(host)" }
                            machineMade.insert(event.eventKey)
                        }
                    }
                }
                for n in 0..<sweep { scannerClick(after: n == 0 ? 300 : 0.15) }
                if senderDomain == "spammy.test", random.unit() < 0.03 { add(.complained, after: 300) }
                if random.unit() < 0.015 {
                    add(.unsubscribed, after: 400)
                    if random.unit() < 0.4 { add(.subscribed, after: 3600 + Double(random.next() % 86400)) }
                }
            }
            messages.append(message)
        }
        machineKeys = machineMade
    }

    var events: [EmailEvent] { messages.flatMap(\.events) }

    /// Every event once, plus about one in ten again, in a shuffled order.
    func deliveries(seed: UInt64) -> [EmailEvent] {
        var random = SplitMix64(seed: seed)
        var all = events
        all += events.filter { _ in random.unit() < 0.1 }
        for index in stride(from: all.count - 1, to: 0, by: -1) {
            all.swapAt(index, Int(random.next() % UInt64(index + 1)))
        }
        return all
    }

    static func hour(_ date: Date) -> Date { Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 3600).rounded(.down) * 3600) }
    static func day(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.string(from: date)
    }

    // MARK: expectations

    struct CountKey: Hashable {
        var hour: Date, provider: String, source: String, type: String, senderDomain: String, recipientDomain: String, campaign: String
    }

    func key(_ event: EmailEvent, _ message: Message, hour: Date, type: String) -> CountKey {
        CountKey(
            hour: hour, provider: message.provider.rawValue, source: message.source, type: type, senderDomain: message.senderDomain,
            recipientDomain: String(message.recipient.lowercased().split(separator: "@")[1]), campaign: message.campaign ?? "")
    }

    var hourlyCounts: [CountKey: Int64] {
        var counts: [CountKey: Int64] = [:]
        for message in messages {
            for event in message.events {
                counts[key(event, message, hour: Self.hour(event.occurredAt), type: event.type.rawValue), default: 0] += 1
            }
        }
        return counts
    }

    func isMachine(_ event: EmailEvent) -> Bool { machineKeys.contains(event.eventKey) }

    /// The machines' opens and clicks per hour and dimension (`event_counts_hourly.machine`).
    var machineHourlyCounts: [CountKey: Int64] {
        var counts: [CountKey: Int64] = [:]
        for message in messages {
            for event in message.events where isMachine(event) {
                counts[key(event, message, hour: Self.hour(event.occurredAt), type: event.type.rawValue), default: 0] += 1
            }
        }
        return counts
    }

    /// Unique opens and clicks: one per message, in the hour of its first open (click); and the
    /// human ones, in the hour of its first open (click) no machine made.
    var uniqueCounts: [CountKey: Int64] {
        var counts: [CountKey: Int64] = [:]
        for message in messages {
            for (type, kind) in [(EventType.opened, "open"), (.clicked, "click")] {
                let events = message.events.filter { $0.type == type }
                if let first = events.map(\.occurredAt).min() {
                    counts[key(message.events[0], message, hour: Self.hour(first), type: kind), default: 0] += 1
                }
                if let first = events.filter({ !isMachine($0) }).map(\.occurredAt).min() {
                    counts[key(message.events[0], message, hour: Self.hour(first), type: "human_" + kind), default: 0] += 1
                }
            }
        }
        return counts
    }

    struct Engagement: Equatable {
        var events = 0, delivered = 0, opens = 0, machineOpens = 0, clicks = 0, machineClicks = 0
        var firstSeen = Date.distantFuture, lastSeen = Date.distantPast
        var lastOpened: Date?, lastClicked: Date?
    }

    var engagement: [String: Engagement] {
        var result: [String: Engagement] = [:]
        for event in events {
            let address = event.recipient!
            var row = result[address] ?? Engagement()
            row.events += 1
            if event.type == .delivered { row.delivered += 1 }
            if event.type == .opened {
                row.opens += 1
                if isMachine(event) { row.machineOpens += 1 }
                row.lastOpened = max(row.lastOpened ?? .distantPast, event.occurredAt)
            }
            if event.type == .clicked {
                row.clicks += 1
                if isMachine(event) { row.machineClicks += 1 }
                row.lastClicked = max(row.lastClicked ?? .distantPast, event.occurredAt)
            }
            row.firstSeen = min(row.firstSeen, event.occurredAt)
            row.lastSeen = max(row.lastSeen, event.occurredAt)
            result[address] = row
        }
        return result
    }

    struct Suppressed: Equatable {
        var reason: String
        var at: Date
        var lifted: Date?
    }

    /// docs/ANALYTICS.md, "Suppressions", applied to each address's whole history.
    func suppressions(softLimit: Int, softDays: Int) -> [String: Suppressed] {
        var result: [String: Suppressed] = [:]
        for (address, history) in Dictionary(grouping: events, by: { $0.recipient! }) {
            let times = { (predicate: (EmailEvent) -> Bool) in history.filter(predicate).map(\.occurredAt).sorted() }
            let complaints = times { $0.type == .complained }
            let hard = times { $0.type == .bounced && $0.bounceClass == .hard }
            let soft = times { $0.type == .bounced && $0.bounceClass == .soft }
            let unsubscribes = times { $0.type == .unsubscribed }
            let subscribes = times { $0.type == .subscribed }
            var softCompleted: Date?
            if soft.count >= softLimit {
                for first in 0...(soft.count - softLimit) {
                    let last = soft[first + softLimit - 1]
                    if last.timeIntervalSince(soft[first]) <= Double(softDays) * 86400 { softCompleted = min(softCompleted ?? last, last) }
                }
            }
            if let first = complaints.first {
                result[address] = Suppressed(reason: "complaint", at: first)
            } else if let first = hard.first {
                result[address] = Suppressed(reason: "hard_bounce", at: first)
            } else if let completed = softCompleted {
                result[address] = Suppressed(reason: "soft_bounces", at: completed)
            } else if let latest = unsubscribes.last {
                result[address] = Suppressed(reason: "unsubscribe", at: latest, lifted: subscribes.first { $0 > latest })
            }
        }
        return result
    }

    struct Timeline: Equatable {
        var delivered: Date?, bounced: Date?, bounceClass: String?, firstOpened: Date?, opens = 0, firstClicked: Date?, clicks = 0
        var complained: Date?, unsubscribed: Date?, deferrals = 0, queued: Date?, latestState: String?, events = 0
        var firstHumanOpened: Date?, humanOpens = 0, firstHumanClicked: Date?, humanClicks = 0
    }

    var timelines: [String: Timeline] {
        var result: [String: Timeline] = [:]
        for message in messages {
            var row = Timeline()
            let first = { (type: EventType) in message.events.filter { $0.type == type }.map(\.occurredAt).min() }
            row.delivered = first(.delivered)
            row.bounced = first(.bounced)
            row.bounceClass = message.events.first { $0.type == .bounced }?.bounceClass?.rawValue
            row.firstOpened = first(.opened)
            row.opens = message.events.filter { $0.type == .opened }.count
            row.firstClicked = first(.clicked)
            row.clicks = message.events.filter { $0.type == .clicked }.count
            row.complained = first(.complained)
            row.unsubscribed = first(.unsubscribed)
            row.deferrals = message.events.filter { $0.type == .deferred }.count
            row.queued = first(.queued)
            row.latestState = message.events.max { $0.occurredAt < $1.occurredAt }?.type.rawValue
            row.events = message.events.count
            let human = { (type: EventType) in message.events.filter { $0.type == type && !isMachine($0) } }
            row.firstHumanOpened = human(.opened).map(\.occurredAt).min()
            row.humanOpens = human(.opened).count
            row.firstHumanClicked = human(.clicked).map(\.occurredAt).min()
            row.humanClicks = human(.clicked).count
            result[message.id] = row
        }
        return result
    }
}

/// A small, seedable generator (the tests must produce the same month, and the same mutations,
/// every time).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
