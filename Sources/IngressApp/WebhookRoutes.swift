import EmailEvents
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Providers
import RedisStreams

/// `POST /webhooks/{provider}[/{source}]`: collect the body with a limit, authenticate its exact
/// bytes, normalize, append to the stream, and only then answer 200.
///
/// Statuses (DESIGN.md guarantee 5): 401/403 unauthentic (or the ESP's own "do not retry",
/// 406 for Mailgun), 404 unknown provider or source, 413 too large, 415 wrong content type,
/// 422 authentic but unparseable (kept in quarantine), 503 Redis unreachable (the ESP retries).
struct WebhookRoutes: Sendable {
    let registry: SourceRegistry
    let sink: any EventSink
    let maxBodyBytes: Int
    let retryAfterSeconds: Int
    /// Peers whose `X-Forwarded-For` is believed (the load balancers in front).
    let trustedProxies: IPAllowlist
    /// Completes an SNS subscription handshake (a GET of the validated SubscribeURL).
    let confirmSubscription: @Sendable (String) async throws -> Void

    func add(to router: Router<IngressRequestContext>) {
        for path in ["/webhooks/:provider", "/webhooks/:provider/:source"] {
            router.post(RouterPath(path)) { request, context in await receive(request, context) }
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

    private func receive(_ request: Request, _ context: IngressRequestContext) async -> Response {
        guard let entry = resolve(context) else { return unknownSource(context) }
        var logger = context.logger
        logger[metadataKey: "provider"] = "\(entry.provider.provider.rawValue)"
        logger[metadataKey: "source"] = "\(entry.name)"

        if !entry.allowlist.isEmpty {
            let client = IPAllowlist.clientAddress(
                peer: context.remoteAddress?.ipAddress, forwardedFor: request.headers[HTTPField.Name("X-Forwarded-For")!],
                trustedProxies: trustedProxies)
            guard let client, entry.allowlist.contains(client) else {
                logger.notice("request from outside the source's IP allowlist refused", metadata: ["client": "\(client ?? "unknown")"])
                return JSONResponse.error(.forbidden, code: "forbidden_address", message: "this address may not post to this source")
            }
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            return tooLarge()
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            return tooLarge()
        }
        let webhook = WebhookRequest(
            method: request.method.rawValue,
            url: Self.externalURL(request),
            headers: Dictionary(request.headers.map { ($0.name.canonicalName, $0.value) }, uniquingKeysWith: { _, last in last }),
            body: Array(buffer: body),
            receivedAt: Date()
        )
        let received: ReceivedWebhook
        do {
            received = try await entry.provider.receive(
                webhook, source: entry.name, credentials: entry.credentials, now: webhook.receivedAt)
        } catch {
            return await refuse(error, webhook: webhook, entry: entry, logger: logger)
        }
        if let subscription = received.subscription {
            return await handshake(subscription, entry: entry, logger: logger)
        }
        do {
            let ttl = max(entry.credentials.replayWindow, 300) * 2
            guard let appended = try await sink.append(received.events, replayNonce: received.replayNonce, nonceTTL: ttl) else {
                logger.notice("replayed request refused")
                return refusal(entry, WebhookError(.replayed, "this request was already accepted"))
            }
            logger.debug("accepted", metadata: ["events": "\(appended)"])
            return JSONResponse.accepted(appended)
        } catch {
            return unavailable(error, logger: logger)
        }
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

    private func refuse(_ error: WebhookError, webhook: WebhookRequest, entry: SourceRegistry.Entry, logger: Logger) async -> Response {
        if error.isAuthenticationFailure {
            logger.notice("unauthentic request refused", metadata: ["reason": "\(error.code.rawValue)"])
            return refusal(entry, error)
        }
        switch error.code {
        case .unsupportedMediaType:
            return JSONResponse.error(.unsupportedMediaType, code: error.code.rawValue, message: error.message)
        case .unavailable:
            logger.error("cannot verify the request now", metadata: ["reason": "\(error.message)"])
            var headers = HTTPFields()
            headers[.retryAfter] = String(retryAfterSeconds)
            return JSONResponse.error(
                .serviceUnavailable, code: error.code.rawValue, message: "cannot verify the request now; retry later", headers: headers)
        default:
            // Authentic but unparseable: keep it, with the reason, for `postwire replay`.
            let entry = QuarantineEntry(
                provider: entry.provider.provider.rawValue, source: entry.name, reason: error.message,
                contentType: webhook.headers["content-type"] ?? "", receivedAt: webhook.receivedAt, body: webhook.body,
                headers: webhook.headers
            )
            do {
                try await sink.quarantine(entry)
            } catch {
                return unavailable(error, logger: logger)
            }
            logger.warning("authentic request quarantined", metadata: ["reason": "\(error.message)"])
            return JSONResponse.error(.unprocessableContent, code: error.code.rawValue, message: error.message + "; kept in quarantine")
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
