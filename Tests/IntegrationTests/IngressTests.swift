import Crypto
import EmailEvents
import Foundation
import PostwireConfig
import ProviderSamples
import Providers
import RedisStreams
import Testing

/// Bad input through a running ingress: every case gets its status and a JSON error, and leaves
/// nothing in the stream (or exactly the quarantine entry, where that is the rule).
@Suite struct IngressTests {
    static let mailgunKey = "ingress-mailgun-key"
    static let sendgridKey = P256.Signing.PrivateKey()
    static let environment = [
        "POSTWIRE_SECRET_MAILGUN_DEFAULT": mailgunKey,
        "POSTWIRE_SECRET_SENDGRID_DEFAULT": sendgridKey.publicKey.derRepresentation.base64EncodedString(),
    ]

    static func sample(_ id: String = UUID().uuidString) -> SampleEvent {
        SampleEvent(espEvent: "delivered", id: id, recipient: "a@example.com", occurredAt: Date())
    }

    @Test func badRequestsGetTheirStatusAndLeaveNothingInTheStream() async throws {
        let configuration = {
            var configuration = TestEnvironment.configuration(database: "unused")
            configuration.ingress.maxBodyBytes = 64 * 1024
            return configuration
        }()
        let redis = TestEnvironment.redis()
        try await Harness.withIngress(configuration, environment: Self.environment) { url in
            let mailgun = SampleWebhooks.mailgun(Self.sample(), signingKey: Self.mailgunKey, signedAt: Date())
            let forgedMailgun = SampleWebhooks.mailgun(Self.sample(), signingKey: "not-the-key", signedAt: Date())
            let staleMailgun = SampleWebhooks.mailgun(Self.sample(), signingKey: Self.mailgunKey, signedAt: Date() - 3600)
            let sendgrid = SampleWebhooks.sendgrid([Self.sample()], privateKey: Self.sendgridKey, signedAt: Date())
            let forgedSendgrid = SampleWebhooks.sendgrid([Self.sample()], privateKey: P256.Signing.PrivateKey(), signedAt: Date())
            var unsigned = sendgrid.headers
            unsigned[SendGridProvider.signatureHeader] = nil

            let cases: [(String, String, [String: String], [UInt8], Int, String)] = [
                ("forged mailgun", "/webhooks/mailgun", forgedMailgun.headers, forgedMailgun.body, 406, "bad_signature"),
                ("stale mailgun", "/webhooks/mailgun", staleMailgun.headers, staleMailgun.body, 406, "stale_timestamp"),
                ("unreadable mailgun", "/webhooks/mailgun", ["content-type": "application/json"], Array("{oops".utf8), 406, "unreadable"),
                (
                    "unsigned mailgun legacy form", "/webhooks/mailgun", ["content-type": "application/x-www-form-urlencoded"],
                    Array("event=delivered&recipient=a%40example.com".utf8), 406, "missing_credentials"
                ),
                ("forged sendgrid", "/webhooks/sendgrid", forgedSendgrid.headers, forgedSendgrid.body, 403, "bad_signature"),
                ("unsigned sendgrid", "/webhooks/sendgrid", unsigned, sendgrid.body, 401, "missing_credentials"),
                ("altered sendgrid", "/webhooks/sendgrid", sendgrid.headers, sendgrid.body + Array(" ".utf8), 403, "bad_signature"),
                ("unknown provider", "/webhooks/hotmail", mailgun.headers, mailgun.body, 404, "unknown_source"),
                ("unknown source", "/webhooks/mailgun/eu", mailgun.headers, mailgun.body, 404, "unknown_source"),
                ("oversize", "/webhooks/sendgrid", sendgrid.headers, Array(repeating: 0x20, count: 65 * 1024), 413, "too_large"),
            ]
            for (name, path, headers, body, status, code) in cases {
                let reply = try await HTTP.request(url + path, headers: headers, body: body)
                #expect(reply.status == status, "\(name): \(reply.body)")
                #expect(reply.headers["content-type"] == "application/json", "\(name)")
                #expect(reply.body.contains(#""code":"\#(code)""#), "\(name): \(reply.body)")
            }
            #expect(try await redis.xlen(configuration.redis.stream) == 0)
            #expect(try await redis.xlen(configuration.redis.quarantineStream) == 0)

            // The genuine requests are accepted; replaying the Mailgun one is refused and adds nothing.
            #expect(try await HTTP.request(url + "/webhooks/mailgun", headers: mailgun.headers, body: mailgun.body).status == 200)
            #expect(try await HTTP.request(url + "/webhooks/sendgrid", headers: sendgrid.headers, body: sendgrid.body).status == 200)
            let replay = try await HTTP.request(url + "/webhooks/mailgun", headers: mailgun.headers, body: mailgun.body)
            #expect(replay.status == 406)
            #expect(replay.body.contains(#""code":"replayed""#))
            #expect(try await redis.xlen(configuration.redis.stream) == 2)

            // Probes from ESPs validating the URL.
            #expect(try await HTTP.request(url + "/webhooks/mailgun", method: "HEAD").status == 200)
            #expect(try await HTTP.request(url + "/webhooks/sendgrid/default", method: "GET").status == 200)
            #expect(try await HTTP.request(url + "/webhooks/nobody", method: "GET").status == 404)
            #expect(try await HTTP.request(url + "/healthz", method: "GET").status == 200)
            #expect(try await HTTP.request(url + "/readyz", method: "GET").status == 200)
        }
        await redis.close()
    }

    @Test func authenticButUnparseableIsQuarantinedWith422() async throws {
        let configuration = TestEnvironment.configuration(database: "unused")
        let redis = TestEnvironment.redis()
        try await Harness.withIngress(configuration, environment: Self.environment) { url in
            let body = #"{"not":"an array"}"#
            let timestamp = String(Int(Date().timeIntervalSince1970))
            let signature = try Self.sendgridKey.signature(for: Data((timestamp + body).utf8)).derRepresentation.base64EncodedString()
            let reply = try await HTTP.request(
                url + "/webhooks/sendgrid",
                headers: [
                    "content-type": "application/json",
                    SendGridProvider.signatureHeader: signature,
                    SendGridProvider.timestampHeader: timestamp,
                ], body: Array(body.utf8))
            #expect(reply.status == 422)
            #expect(reply.body.contains("quarantine"))
            #expect(try await redis.xlen(configuration.redis.stream) == 0)
            let entries = try await redis.xrange(configuration.redis.quarantineStream, count: 10)
            try #require(entries.count == 1)
            #expect(entries[0].string("p") == "sendgrid")
            #expect(entries[0].string("s") == "default")
            #expect(entries[0].string("reason") == "body is not a JSON array")
            #expect(entries[0].fields["body"] == Array(body.utf8))
        }
        await redis.close()
    }

    @Test func redisDownAnswers503AndRecoversWithoutRestart() async throws {
        let port = TestEnvironment.freePort()
        let configuration = TestEnvironment.configuration(database: "unused", redisPort: port)
        try await Harness.withIngress(configuration, environment: Self.environment) { url in
            let down = SampleWebhooks.mailgun(Self.sample(), signingKey: Self.mailgunKey, signedAt: Date())
            let refused = try await HTTP.request(url + "/webhooks/mailgun", headers: down.headers, body: down.body)
            #expect(refused.status == 503)
            #expect(refused.headers["retry-after"] == "30")
            #expect(refused.body.contains(#""code":"unavailable""#))
            #expect(try await HTTP.request(url + "/readyz", method: "GET").status == 503)
            #expect(try await HTTP.request(url + "/healthz", method: "GET").status == 200)

            let server = try await RedisServerProcess.start(port: port)
            // The same request is accepted once Redis is back: the failed attempt burnt no token.
            let accepted = try await HTTP.request(url + "/webhooks/mailgun", headers: down.headers, body: down.body)
            #expect(accepted.status == 200)
            #expect(try await HTTP.request(url + "/readyz", method: "GET").status == 200)
            let redis = TestEnvironment.redis(port: port)
            #expect(try await redis.xlen(configuration.redis.stream) == 1)

            // Redis restarts under a running ingress: the pooled connections are remade.
            await server.stop()
            #expect(try await HTTP.request(url + "/webhooks/mailgun", headers: down.headers, body: down.body).status == 503)
            let again = try await RedisServerProcess.start(port: port)
            let second = SampleWebhooks.mailgun(Self.sample(), signingKey: Self.mailgunKey, signedAt: Date())
            #expect(try await HTTP.request(url + "/webhooks/mailgun", headers: second.headers, body: second.body).status == 200)
            await redis.close()
            await again.stop()
        }
    }
}

/// Per-source IP allowlists through a running ingress (the test client is 127.0.0.1).
@Suite struct IPAllowlistIngressTests {
    static func post(_ url: String, forwardedFor: String? = nil) async throws -> HTTP.Reply {
        let webhook = SampleWebhooks.mailgun(IngressTests.sample(), signingKey: IngressTests.mailgunKey, signedAt: Date())
        var headers = webhook.headers
        if let forwardedFor { headers["X-Forwarded-For"] = forwardedFor }
        return try await HTTP.request(url + "/webhooks/mailgun", headers: headers, body: webhook.body)
    }

    static func configuration(allowlist: [String], trustedProxies: [String]) -> PostwireConfiguration {
        var configuration = TestEnvironment.configuration(database: "unused")
        configuration.sources = [SourceSettings(provider: "mailgun", name: "default", ipAllowlist: allowlist)]
        configuration.ingress.trustedProxies = trustedProxies
        return configuration
    }

    @Test func outsideTheAllowlistIsRefusedAndSpoofedForwardedForIgnored() async throws {
        let environment = ["POSTWIRE_SECRET_MAILGUN_DEFAULT": IngressTests.mailgunKey]
        let redis = TestEnvironment.redis()
        let outside = Self.configuration(allowlist: ["192.0.2.0/24"], trustedProxies: [])
        try await Harness.withIngress(outside, environment: environment) { url in
            let refused = try await Self.post(url)
            #expect(refused.status == 403)
            #expect(refused.body.contains(#""code":"forbidden_address""#))
            // 127.0.0.1 is not a trusted proxy: its X-Forwarded-For is not believed.
            #expect(try await Self.post(url, forwardedFor: "192.0.2.10").status == 403)
            #expect(try await redis.xlen(outside.redis.stream) == 0)
        }
        let inside = Self.configuration(allowlist: ["127.0.0.0/8"], trustedProxies: [])
        try await Harness.withIngress(inside, environment: environment) { url in
            let reply = try await Self.post(url)
            #expect(reply.status == 200)
        }
        let proxied = Self.configuration(allowlist: ["192.0.2.0/24"], trustedProxies: ["127.0.0.1/32"])
        try await Harness.withIngress(proxied, environment: environment) { url in
            // Behind a trusted proxy, the forwarded client address is what counts.
            let forwarded = try await Self.post(url, forwardedFor: "192.0.2.10")
            #expect(forwarded.status == 200)
            #expect(try await Self.post(url, forwardedFor: "203.0.113.5").status == 403)
            #expect(try await Self.post(url).status == 403)
        }
        await redis.close()
    }
}
