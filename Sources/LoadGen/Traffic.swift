import Crypto
import Foundation
import ProviderSamples
import Providers

/// What to send: realistic, correctly signed Mailgun events (one per request) and SendGrid batches,
/// with a share of duplicates (the same events again: ESP retries) and of bad requests (forged
/// signatures), so every path of the ingress is under load.
public struct TrafficPlan: Sendable {
    /// Relative weights: `["mailgun": 1, "sendgrid": 1]`.
    public var mix: [String: Double]
    /// Events per SendGrid request.
    public var batchSize: Int
    /// Share of requests that repeat an earlier request's events (Mailgun re-signed, as Mailgun does).
    public var duplicateShare: Double
    /// Share of requests with a forged signature (refused: 406 Mailgun, 403 SendGrid).
    public var badShare: Double
    /// Whom the events are about (``TrafficProfile``).
    public var profile: TrafficProfile
    public var mailgunKey: String
    public var sendgridKey: P256.Signing.PrivateKey?

    public init(
        mix: [String: Double], batchSize: Int = 100, duplicateShare: Double = 0, badShare: Double = 0, profile: TrafficProfile = .random,
        mailgunKey: String, sendgridKey: P256.Signing.PrivateKey?
    ) {
        self.mix = mix
        self.profile = profile
        self.batchSize = max(1, batchSize)
        self.duplicateShare = duplicateShare
        self.badShare = badShare
        self.mailgunKey = mailgunKey
        self.sendgridKey = sendgridKey
    }

    public static let providers = ["mailgun", "sendgrid"]
}

/// One request to send, and what a correct ingress answers.
struct PlannedRequest {
    var path: String
    var headers: [String: String]
    var body: [UInt8]
    var events: Int
    var bad: Bool
}

/// Makes the requests of one load worker; deterministic per worker seed.
struct TrafficGenerator {
    let plan: TrafficPlan
    let run: String
    var random: SystemRandomNumberGenerator = SystemRandomNumberGenerator()
    private var counter = 0
    private var recent: [SampleEvent] = []
    /// The seconds the last new SendGrid batch has been signed in, by it and its repeats.
    private var recentSeconds: Set<Int> = []
    /// The typical profile's messages in flight, by provider.
    private var lives: [String: [MessageLife]] = [:]
    private var messages = 0

    init(plan: TrafficPlan, run: String) {
        self.plan = plan
        self.run = run
    }

    mutating func next() -> PlannedRequest {
        counter += 1
        let provider = pickProvider()
        let bad = Double.random(in: 0..<1, using: &random) < plan.badShare
        let count = provider == "sendgrid" ? plan.batchSize : 1
        let repeats = recent.count >= count && Double.random(in: 0..<1, using: &random) < plan.duplicateShare
        let events = repeats ? Array(recent.suffix(count)) : (0..<count).map { sample($0, provider: provider) }
        if !repeats { recent = Array((recent + events).suffix(max(plan.batchSize, 1))) }
        var signedAt = Date()
        let webhook: SignedWebhook
        switch provider {
        case "sendgrid":
            let key = bad || plan.sendgridKey == nil ? P256.Signing.PrivateKey() : plan.sendgridKey!
            // SendGrid's replay guard is the hash of timestamp and body: a repeat of the same events
            // signed in a second they were signed in before is a replay, rightly refused (an ESP
            // retries later), so a repeat is dated a second that batch has not used.
            if !repeats { recentSeconds = [] }
            while recentSeconds.contains(Int(signedAt.timeIntervalSince1970)) { signedAt.addTimeInterval(-1) }
            recentSeconds.insert(Int(signedAt.timeIntervalSince1970))
            webhook = SampleWebhooks.sendgrid(events, privateKey: key, signedAt: signedAt, sortedKeys: false)
        default:
            webhook = SampleWebhooks.mailgun(events[0], signingKey: bad ? "forged" : plan.mailgunKey, signedAt: signedAt, sortedKeys: false)
        }
        return PlannedRequest(path: "/webhooks/\(provider)", headers: webhook.headers, body: webhook.body, events: events.count, bad: bad)
    }

    private mutating func pickProvider() -> String {
        let total = plan.mix.values.reduce(0, +)
        var pick = Double.random(in: 0..<max(total, .leastNonzeroMagnitude), using: &random)
        for name in plan.mix.keys.sorted() {
            pick -= plan.mix[name] ?? 0
            if pick < 0 { return name }
        }
        return plan.mix.keys.sorted().first ?? "mailgun"
    }

    private mutating func sample(_ index: Int, provider: String) -> SampleEvent {
        let id = "\(run)-\(counter)-\(index)"
        switch plan.profile {
        case .random:
            let (kind, extra) = randomKind(provider)
            return SampleEvent(
                espEvent: kind, id: id, recipient: "load\(Int.random(in: 0..<100_000, using: &random))@example.com", occurredAt: Date(),
                campaign: "load", extra: extra)
        case .worst:
            let (kind, extra) = randomKind(provider)
            return SampleEvent(
                espEvent: kind, id: id, messageId: id, recipient: "\(id)@example.com", occurredAt: Date(), campaign: "load", extra: extra)
        case .typical:
            var pool = lives[provider] ?? []
            while pool.count < MessageLife.inFlight {
                messages += 1
                pool.append(MessageLife.make(id: "\(run)-m\(messages)", provider: provider, using: &random))
            }
            let pick = Int.random(in: 0..<pool.count, using: &random)
            // A life has at least two events and leaves the pool with its last.
            let (kind, extra) = pool[pick].kinds.removeFirst()
            let life = pool[pick]
            if life.kinds.isEmpty { pool.swapAt(pick, pool.count - 1); pool.removeLast() }
            lives[provider] = pool
            return SampleEvent(
                espEvent: kind, id: id, messageId: life.id, recipient: life.recipient, occurredAt: Date(), campaign: "load", extra: extra)
        }
    }

    private mutating func randomKind(_ provider: String) -> (String, [String: String]) {
        let kinds = provider == "sendgrid" ? SampleWebhooks.sendgridEvents : SampleWebhooks.mailgunEvents
        return kinds[Int.random(in: 0..<kinds.count, using: &random)]
    }
}
