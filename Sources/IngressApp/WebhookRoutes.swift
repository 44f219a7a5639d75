import EmailEvents
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Providers
import RedisStreams

/// `POST /webhooks/{provider}[/{source}]`: collect the body with a limit, authenticate its exact
/// bytes, normalize, append to the stream, and only then answer 200.
///
/// Statuses (docs/DESIGN.md guarantee 5): 200 stored (with the number of elements set aside, if any),
/// 401/403 unauthentic or replayed (or the ESP's own "do not retry", 406 for Mailgun), 404 unknown
/// provider or source, 413 too large, 422 authentic but nothing in it readable (kept in
/// quarantine), 429 over the source's rate limit, 503 Redis unreachable (the ESP retries). The
/// declared content type refuses nothing: authentication decides.
///
/// Every request ends in one `request` log line (request id, provider, source, status, events)
/// and in the metrics of docs/METRICS.md. Neither ever carries a header, a secret or a signature.
struct WebhookRoutes: Sendable {
    let registry: SourceRegistry
    let sink: any EventSink
    let maxBodyBytes: Int
    let retryAfterSeconds: Int
    /// Peers whose `X-Forwarded-For` is believed (the load balancers in front).
    let trustedProxies: IPAllowlist
    /// Completes an SNS subscription handshake (a GET of the validated SubscribeURL).
    let confirmSubscription: @Sendable (String) async throws -> Void
    let metrics: IngressMetrics
    let rateLimiter: (any RateLimiter)?
    /// What one source may add to the quarantine per hour.
    var budget: QuarantineBudget = .unlimited
    /// How long the whole body may take to arrive.
    var bodyTimeout: Duration = .seconds(30)

    func add(to router: Router<IngressRequestContext>) {
        for path in ["/webhooks/:provider", "/webhooks/:provider/:source"] {
            router.post(RouterPath(path)) { request, context in await handle(request, context) }
            // ESPs probe a URL before saving it (Mandrill HEAD, others GET): a known source answers 200.
            router.head(RouterPath(path)) { request, context in probe(context) }
            router.get(RouterPath(path)) { request, context in probe(context) }
        }
    }

    private func probe(_ context: IngressRequestContext) -> Response {
        guard resolve(context) != nil else { return unknownSource(context) }
        return JSONResponse.make(.ok, ["status": "ok"])
    }

    private func resolve(_ context: IngressRequestContext) -> SourceRegistry.Entry? {
        let provider = context.parameters.get("provider") ?? ""
        let source = context.parameters.get("source") ?? "default"
        return registry.entry(provider: provider, source: source)
    }

    private func unknownSource(_ context: IngressRequestContext) -> Response {
        let provider = context.parameters.get("provider") ?? ""
        let source = context.parameters.get("source") ?? "default"
        return JSONResponse.error(.notFound, code: "unknown_source", message: "no source \(source) is configured for provider \(provider)")
    }

    private func handle(_ request: Request, _ context: IngressRequestContext) async -> Response {
        let start = ContinuousClock.now
        var observation = IngressMetrics.Observation()
        let response = await receive(request, context, &observation)
        let status = Int(response.status.code)
        observation.quarantined = status == 422  // only answered once the request was stored
        metrics.record(observation, status: status, duration: .now - start)
        context.logger.info(
            "request",
            metadata: [
                "provider": "\(observation.provider)", "source": "\(observation.source)", "status": "\(status)",
                "events": "\(observation.accepted.values.reduce(0, +))", "set_aside": "\(observation.elementsSetAside)",
            ])
        return response
    }

    private func receive(
        _ request: Request, _ context: IngressRequestContext, _ observation: inout IngressMetrics.Observation
    ) async
        -> Response
    {
        let providerName = context.parameters.get("provider") ?? ""
        if Provider(rawValue: providerName) != nil { observation.provider = providerName }
        guard let entry = resolve(context) else { return unknownSource(context) }
        observation.source = entry.name
        var logger = context.logger
        logger[metadataKey: "provider"] = "\(entry.provider.provider.rawValue)"
        logger[metadataKey: "source"] = "\(entry.name)"

        if !entry.allowlist.isEmpty {
            let client = IPAllowlist.clientAddress(
                peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[HTTPField.Name("X-Forwarded-For")!],
                trustedProxies: trustedProxies)
            guard let client, entry.allowlist.contains(client) else {
                observation.authFailure = "forbidden_address"
                logger.notice("request from outside the source's IP allowlist refused", metadata: ["client": "\(client ?? "unknown")"])
                return JSONResponse.error(.forbidden, code: "forbidden_address", message: "this address may not post to this source")
            }
        }
        if let limit = entry.rateLimit, let rateLimiter,
            let wait = await rateLimiter.admit(provider: entry.provider.provider.rawValue, source: entry.name, limit: limit)
        {
            observation.rateLimited = true
            var headers = HTTPFields()
            headers[.retryAfter] = String(
                max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up))))
            return JSONResponse.error(
                .tooManyRequests, code: "rate_limited", message: "this source is over its rate limit; retry later", headers: headers)
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            return tooLarge()
        }
        let body: ByteBuffer
        do {
            body = try await collect(request.body)
        } catch is NIOTooManyBytesError {
            return tooLarge()
        } catch is TimedOut {
            return JSONResponse.error(
                .requestTimeout, code: "body_timeout", message: "the body did not arrive within \(bodyTimeout); nothing was stored")
        } catch {
            return JSONResponse.error(.badRequest, code: "unreadable_body", message: "the body could not be read: \(error)")
        }
        observation.bodyBytes = body.readableBytes
        let webhook = WebhookRequest(
            method: request.method.rawValue,
            url: Self.externalURL(request),
            // Canonical field names are lower case: no second pass to lower-case them.
            lowercasedHeaders: Dictionary(request.headers.map { ($0.name.canonicalName, $0.value) }, uniquingKeysWith: { _, last in last }),
            body: Array(buffer: body),
            receivedAt: Date()
        )
        let authentication: Authentication
        do {
            authentication = try await entry.provider.authenticate(webhook, credentials: entry.credentials, now: webhook.receivedAt)
        } catch {
            if error.isAuthenticationFailure { observation.authFailure = IngressMetrics.reason(error.code) }
            return refuse(error, entry: entry, logger: logger)
        }
        // A spent nonce is refused by the store itself, in the one step that would have stored the
        // request: normalizing first cannot trap, so checking the guard before it too would only
        // cost every genuine request a Redis round trip.
        let ttl = Self.guardTTL(window: entry.credentials.replayWindow)
        let received = entry.provider.normalize(webhook, authentication, source: entry.name)
        if let subscription = received.subscription {
            return await handshake(subscription, entry: entry, logger: logger)
        }
        let quarantine = received.rejected.map { element in
            QuarantineEntry(
                provider: entry.provider.provider.rawValue, source: entry.name, reason: element.reason,
                contentType: webhook.headers["content-type"] ?? "", receivedAt: webhook.receivedAt, body: element.body,
                headers: webhook.headers, index: element.index)
        }
        let outcome: StoreOutcome
        do {
            let storeStart = ContinuousClock.now
            let stored = try await sink.store(
                StoredRequest(
                    events: received.events, quarantine: quarantine, replayNonce: authentication.replayNonce, nonceTTL: ttl,
                    budget: budget))
            observation.xadd = .now - storeStart
            guard let stored else {
                observation.authFailure = IngressMetrics.reason(.replayed)
                logger.notice("replayed request refused")
                return refusal(entry, WebhookError(.replayed, "this request was already accepted"))
            }
            outcome = stored
        } catch {
            return unavailable(error, logger: logger)
        }
        return answer(received, outcome, &observation, logger: logger)
    }

    /// How long a consumed nonce is remembered: twice the window in which its request is accepted
    /// (at least 10 minutes when the source has no window), so no replay outlives its guard.
    static func guardTTL(window: Int) -> Int {
        max(window, 300) * 2
    }

    /// 200 with what was stored and set aside, or 422 when nothing could be read.
    private func answer(
        _ received: ReceivedWebhook, _ outcome: StoreOutcome, _ observation: inout IngressMetrics.Observation, logger: Logger
    ) -> Response {
        observation.elementsSetAside = received.rejected.count
        observation.overBudget = outcome.overBudget
        for event in received.events { observation.accepted[event.type.rawValue, default: 0] += 1 }
        guard let first = received.rejected.first else { return JSONResponse.accepted(outcome.appended) }
        logger.warning(
            "authentic request had unreadable elements",
            metadata: [
                "set_aside": "\(received.rejected.count)", "quarantined": "\(outcome.quarantined)", "over_budget": "\(outcome.overBudget)",
                "reason": "\(first.reason)",
            ])
        guard received.events.isEmpty else { return JSONResponse.accepted(outcome.appended, quarantined: received.rejected.count) }
        let kept = outcome.overBudget == 0 ? "kept in quarantine" : "not kept: the source is over its quarantine budget"
        return JSONResponse.error(.unprocessableContent, code: WebhookError.Code.malformed.rawValue, message: first.reason + "; " + kept)
    }

    /// SNS asks to (un)subscribe: confirm an allowed topic, or log the URL for the operator.
    private func handshake(_ subscription: SubscriptionRequest, entry: SourceRegistry.Entry, logger: Logger) async -> Response {
        guard subscription.kind == "SubscriptionConfirmation", entry.autoConfirmSubscriptions else {
            logger.warning(
                "SNS \(subscription.kind) not confirmed automatically; visit the URL to confirm",
                metadata: ["topic": "\(subscription.topicArn)", "url": "\(subscription.url)"])
            return JSONResponse.make(.ok, ["subscription": "logged"])
        }
        do {
            try await confirmSubscription(subscription.url)
        } catch {
            logger.error("SNS subscription confirmation failed", metadata: ["topic": "\(subscription.topicArn)", "error": "\(error)"])
            var headers = HTTPFields()
            headers[.retryAfter] = String(retryAfterSeconds)
            return JSONResponse.error(
                .serviceUnavailable, code: "unavailable", message: "could not confirm the subscription", headers: headers)
        }
        logger.notice("SNS subscription confirmed", metadata: ["topic": "\(subscription.topicArn)"])
        return JSONResponse.make(.ok, ["subscription": "confirmed"])
    }

    private func refuse(_ error: WebhookError, entry: SourceRegistry.Entry, logger: Logger) -> Response {
        if error.isAuthenticationFailure {
            logger.notice("unauthentic request refused", metadata: ["reason": "\(error.code.rawValue)"])
            return refusal(entry, error)
        }
        switch error.code {
        case .unavailable:
            logger.error("cannot verify the request now", metadata: ["reason": "\(error.message)"])
            var headers = HTTPFields()
            headers[.retryAfter] = String(retryAfterSeconds)
            return JSONResponse.error(
                .serviceUnavailable, code: error.code.rawValue, message: "cannot verify the request now; retry later", headers: headers)
        default:
            // Providers set unreadable elements aside in `normalize`; authentication throws nothing else.
            return JSONResponse.error(.unprocessableContent, code: error.code.rawValue, message: error.message)
        }
    }

    /// 401 when credentials are missing, 403 when they are wrong, unless the ESP has its own
    /// "rejected, do not retry" status.
    private func refusal(_ entry: SourceRegistry.Entry, _ error: WebhookError) -> Response {
        let status: HTTPResponse.Status =
            entry.provider.refusalStatus.map { HTTPResponse.Status(code: $0) }
            ?? (error.code == .missingCredentials ? .unauthorized : .forbidden)
        return JSONResponse.error(status, code: error.code.rawValue, message: error.message)
    }

    /// The URL as the ESP called it, for schemes that sign it when the source does not configure
    /// it: scheme from `X-Forwarded-Proto` (a TLS proxy in front), host from `Host`.
    static func externalURL(_ request: Request) -> String {
        let scheme = request.headers[HTTPField.Name("X-Forwarded-Proto")!] ?? "http"
        let host = request.head.authority ?? request.headers[HTTPField.Name("Host")!] ?? "localhost"
        return "\(scheme)://\(host)\(request.uri.description)"
    }

    /// The body, within `maxBodyBytes` and `bodyTimeout`. The deadline is checked as each part
    /// arrives, which costs nothing: a timer per request (a sleeping task racing the read) cost a
    /// dispatch wakeup and two thread switches per webhook. A body that stops arriving altogether
    /// is ended by the connection's idle timeout, which each part resets.
    private func collect(_ body: RequestBody) async throws -> ByteBuffer {
        let deadline = ContinuousClock.now + bodyTimeout
        var buffer = ByteBuffer()
        for try await part in body {
            guard buffer.readableBytes + part.readableBytes <= maxBodyBytes else { throw NIOTooManyBytesError(maxBytes: maxBodyBytes) }
            buffer.writeImmutableBuffer(part)
            if ContinuousClock.now > deadline { throw TimedOut() }
        }
        return buffer
    }

    struct TimedOut: Error {}

    private func tooLarge() -> Response {
        JSONResponse.error(.contentTooLarge, code: "too_large", message: "body is larger than \(maxBodyBytes) bytes")
    }

    private func unavailable(_ error: RedisError, logger: Logger) -> Response {
        logger.error("event stream unavailable", metadata: ["error": "\(error)"])
        var headers = HTTPFields()
        headers[.retryAfter] = String(retryAfterSeconds)
        return JSONResponse.error(
            .serviceUnavailable, code: "unavailable", message: "the event stream is unavailable; retry later", headers: headers)
    }
}
