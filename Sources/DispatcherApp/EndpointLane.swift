import AsyncHTTPClient
import EventStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// One endpoint's deliveries in one dispatcher: claim what is due, send it in up to
/// `concurrencyPerEndpoint` requests at once, record every attempt, again. Each endpoint has its
/// own lane, so a receiver that is slow, hangs or fails holds up only its own deliveries.
final class EndpointLane: Sendable {
    private let state: Mutex<(endpoint: WebhookEndpoint, stopped: Bool)>
    private let store: EventStore
    private let http: HTTPClient
    private let settings: DispatchSettings
    private let metrics: DispatcherMetrics
    private let logger: Logger

    init(
        endpoint: WebhookEndpoint, store: EventStore, http: HTTPClient, settings: DispatchSettings, metrics: DispatcherMetrics,
        logger: Logger
    ) {
        state = Mutex((endpoint, false))
        self.store = store
        self.http = http
        self.settings = settings
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "endpoint"] = "\(endpoint.name)"
        self.logger = logger
    }

    var endpoint: WebhookEndpoint { state.withLock { $0.endpoint } }
    var isStopped: Bool { state.withLock { $0.stopped } }

    /// A changed definition (URL, secrets, batch size, rate) takes effect from the next claim.
    func update(_ endpoint: WebhookEndpoint) { state.withLock { $0.endpoint = endpoint } }

    /// The lane ends after the requests in flight (each bounded by the request timeout).
    func stop() { state.withLock { $0.stopped = true } }

    func run() async {
        var limiter = RequestRate(perSecond: endpoint.rateLimit)
        while !isStopped, !Task.isCancelled {
            let endpoint = self.endpoint
            limiter.perSecond = endpoint.rateLimit
            let requests = await limiter.take(upTo: settings.concurrency) { [self] in isStopped }
            guard requests > 0 else { break }
            let claim: DeliveryClaim
            do {
                claim = try await store.claimDeliveries(
                    endpoint: endpoint.id, limit: requests * endpoint.batchSize, lease: settings.lease)
            } catch {
                logger.warning("cannot claim deliveries", metadata: ["error": "\(error)"])
                limiter.giveBack(requests)
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            let claimed = claim.deliveries
            if claimed.isEmpty {
                limiter.giveBack(requests)
                try? await Task.sleep(for: settings.pollInterval)
                continue
            }
            // The claim's reading of the secrets is newer than the lane's copy of the endpoint.
            var fresh = endpoint
            fresh.secrets = claim.secrets
            let signing = fresh
            let groups = stride(from: 0, to: claimed.count, by: endpoint.batchSize).map {
                Array(claimed[$0..<min($0 + endpoint.batchSize, claimed.count)])
            }
            limiter.giveBack(requests - groups.count)
            await withTaskGroup(of: Void.self) { group in
                for deliveries in groups { group.addTask { await self.send(deliveries, to: signing) } }
            }
        }
    }

    /// One request: its deliveries' payloads, signed, POSTed; then the attempt and its outcome.
    private func send(_ deliveries: [ClaimedDelivery], to endpoint: WebhookEndpoint) async {
        let present = deliveries.filter { $0.payload != nil }
        let removed = deliveries.filter { $0.payload == nil }
        if !removed.isEmpty {
            // Retention dropped the event before it could be sent: nothing to send, ever.
            await record(
                removed.map { ($0, .failed) },
                AttemptRecord(webhookID: "", attemptedAt: Date(), status: nil, latencyMilliseconds: 0, error: "event no longer stored"))
        }
        guard !present.isEmpty else { return }
        let id = WebhookSigner.requestID(present)
        let body = WebhookSigner.body(present.compactMap(\.payload), batched: endpoint.batchSize > 1)
        let now = Date()
        let timestamp = Int64(now.timeIntervalSince1970)
        var request = HTTPClientRequest(url: endpoint.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "postwire-dispatcher")
        request.headers.add(name: "webhook-id", value: id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(
            name: "webhook-signature",
            value: WebhookSigner.signature(id: id, timestamp: timestamp, body: body, secrets: endpoint.signingSecrets(at: now)))
        request.body = .bytes(ByteBuffer(bytes: body))

        let start = ContinuousClock.now
        var status: Int?
        var retryAfter: TimeInterval?
        var excerpt: String?
        var failure: String?
        do {
            // The deadline covers the answer's head; the body must come within what is left of it.
            let deadline = NIODeadline.now() + settings.requestTimeout
            let response = try await http.execute(request, deadline: deadline, logger: logger)
            status = Int(response.status.code)
            retryAfter = AttemptPolicy.retryAfter(response.headers.first(name: "retry-after"))
            excerpt = try await Self.excerpt(of: response.body, limit: settings.excerptBytes, deadline: deadline)
        } catch {
            failure = Self.describe(error)
        }
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        // An answer whose body did not arrive in time is no answer.
        let answered = failure == nil ? status : nil
        metrics.attempted(endpoint.name, events: present.count, status: answered, duration: elapsed)
        if failure == nil, let status, !(200..<300).contains(status) { failure = "HTTP \(status)" }
        let attempt = AttemptRecord(
            webhookID: id, attemptedAt: now, status: status, latencyMilliseconds: milliseconds, error: failure, responseExcerpt: excerpt)

        // Each delivery is judged by its own attempt number: a batch may mix a first try with a sixth.
        var outcomes: [(delivery: ClaimedDelivery, outcome: DeliveryOutcome)] = []
        var gone = false
        for delivery in present {
            switch AttemptPolicy.verdict(
                status: answered, retryAfter: retryAfter, attempt: delivery.attempt, schedule: settings.schedule,
                maxRetryAfter: settings.maxRetryAfter)
            {
            case .delivered: outcomes.append((delivery, .delivered))
            case .retry(let wait): outcomes.append((delivery, .retry(at: Date().addingTimeInterval(wait))))
            case .exhausted: outcomes.append((delivery, .failed))
            case .gone:
                outcomes.append((delivery, .held))
                gone = true
            }
        }
        let exhausted = outcomes.filter { $0.outcome == .failed }.count
        if exhausted > 0 { metrics.exhausted(endpoint.name, events: exhausted) }
        // Gone: disabled before its deliveries are released, so no lane can claim them in between.
        if gone { await disable(endpoint, kind: "disabled_gone", because: "the receiver answered 410 Gone") }
        await record(outcomes, attempt)
        guard !gone else { return }
        if failure == nil { await healthy(endpoint) } else { await failing(endpoint) }
    }

    private func record(_ outcomes: [(delivery: ClaimedDelivery, outcome: DeliveryOutcome)], _ attempt: AttemptRecord) async {
        do {
            try await store.record(outcomes, attempt: attempt)
        } catch {
            // The lease runs out and the deliveries are tried again: sent twice, never lost.
            logger.warning("cannot record an attempt", metadata: ["error": "\(error)", "webhook_id": "\(attempt.webhookID)"])
        }
    }

    private func healthy(_ endpoint: WebhookEndpoint) async {
        guard endpoint.failingSince != nil else { return }
        try? await store.endpointSucceeded(endpoint.id)
        update(with: { $0.failingSince = nil })
    }

    private func failing(_ endpoint: WebhookEndpoint) async {
        do {
            if try await store.endpointFailed(endpoint.id, disableAfter: settings.disableAfter) {
                await disable(
                    endpoint, kind: "disabled_failing", because: "every attempt failed for \(Int(settings.disableAfter)) s")
            } else if endpoint.failingSince == nil {
                update(with: { $0.failingSince = Date() })
            }
        } catch {
            logger.warning("cannot note the endpoint's failure", metadata: ["error": "\(error)"])
        }
    }

    /// Disables the endpoint in PostgreSQL, then stops the lane: stopped first, the dispatcher's next
    /// refresh could see it still enabled and start another lane for it.
    private func disable(_ endpoint: WebhookEndpoint, kind: String, because reason: String) async {
        defer { stop() }
        do {
            if try await store.disableEndpoint(endpoint.id, kind: kind, message: reason) {
                logger.error("endpoint disabled", metadata: ["reason": "\(reason)"])
                metrics.disabled(endpoint.name, kind: kind)
            }
        } catch {
            logger.warning("cannot disable the endpoint", metadata: ["error": "\(error)"])
        }
    }

    private func update(with change: (inout WebhookEndpoint) -> Void) {
        state.withLock { change(&$0.endpoint) }
    }

    /// The first `limit` bytes of an answer, as text (a NUL, which PostgreSQL's text refuses,
    /// becomes U+FFFD); the whole body must arrive before `deadline`, else the attempt timed out.
    static func excerpt(of body: HTTPClientResponse.Body, limit: Int, deadline: NIODeadline) async throws -> String? {
        let kept = try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask {
                var kept: [UInt8] = []
                // Read to the end (what is past the limit is dropped), so the connection is reused.
                for try await chunk in body where kept.count < limit {
                    kept.append(contentsOf: chunk.readableBytesView.prefix(limit - kept.count))
                }
                return kept
            }
            group.addTask {
                let left = deadline - NIODeadline.now()
                try await Task.sleep(for: .nanoseconds(max(0, left.nanoseconds)))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let kept = first else { throw HTTPClientError.deadlineExceeded }
            return kept
        }
        guard !kept.isEmpty else { return nil }
        return String(decoding: kept, as: UTF8.self).replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "timed out"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }
}

/// A token bucket per lane: `perSecond` requests on average, a second's worth at once.
struct RequestRate {
    var perSecond: Double?
    private var tokens: Double
    private var last = ContinuousClock.now

    init(perSecond: Double?) {
        self.perSecond = perSecond
        tokens = max(1, perSecond ?? 1)
    }

    /// Waits for at least one request's worth, then takes up to `wanted`; 0 when `stopped` says so
    /// meanwhile (a slow rate waits in short steps, so a lane stops without delay).
    mutating func take(upTo wanted: Int, stopped: () -> Bool) async -> Int {
        guard let rate = perSecond else { return wanted }
        while true {
            let now = ContinuousClock.now
            let elapsed = now - last
            last = now
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            tokens = min(max(1, rate), tokens + seconds * rate)
            if tokens >= 1 {
                let taken = min(wanted, Int(tokens))
                tokens -= Double(taken)
                return taken
            }
            let wait = min(100, max(1, ((1 - tokens) / rate * 1000).rounded(.up)))
            try? await Task.sleep(for: .milliseconds(Int64(wait)))
            if Task.isCancelled || stopped() { return 0 }
        }
    }

    /// Requests taken but not made.
    mutating func giveBack(_ count: Int) {
        guard let rate = perSecond, count > 0 else { return }
        tokens = min(max(1, rate), tokens + Double(count))
    }
}
