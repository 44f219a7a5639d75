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
    public var mailgunKey: String
    public var sendgridKey: P256.Signing.PrivateKey?

    public init(
        mix: [String: Double], batchSize: Int = 100, duplicateShare: Double = 0, badShare: Double = 0, mailgunKey: String,
        sendgridKey: P256.Signing.PrivateKey?
    ) {
        self.mix = mix
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

    init(plan: TrafficPlan, run: String) {
        self.plan = plan
        self.run = run
    }

    mutating func next() -> PlannedRequest {
        counter += 1
        let provider = pickProvider()
        let bad = Double.random(in: 0..<1, using: &random) < plan.badShare
        let duplicate = !recent.isEmpty && Double.random(in: 0..<1, using: &random) < plan.duplicateShare
        let count = provider == "sendgrid" ? plan.batchSize : 1
        let events: [SampleEvent] =
            duplicate && recent.count >= count
            ? Array(recent.suffix(count))
            : (0..<count).map { sample($0, provider: provider) }
        if !duplicate { recent = Array((recent + events).suffix(max(plan.batchSize, 1))) }
        let webhook: SignedWebhook
        switch provider {
        case "sendgrid":
            let key = bad || plan.sendgridKey == nil ? P256.Signing.PrivateKey() : plan.sendgridKey!
            webhook = SampleWebhooks.sendgrid(events, privateKey: key, signedAt: Date(), sortedKeys: false)
        default:
            webhook = SampleWebhooks.mailgun(events[0], signingKey: bad ? "forged" : plan.mailgunKey, signedAt: Date(), sortedKeys: false)
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
        let kinds = provider == "sendgrid" ? SampleWebhooks.sendgridEvents : SampleWebhooks.mailgunEvents
        let (kind, extra) = kinds[Int.random(in: 0..<kinds.count, using: &random)]
        return SampleEvent(
            espEvent: kind, id: "\(run)-\(counter)-\(index)", recipient: "load\(Int.random(in: 0..<100_000, using: &random))@example.com",
            occurredAt: Date(), campaign: "load", extra: extra)
    }
}
