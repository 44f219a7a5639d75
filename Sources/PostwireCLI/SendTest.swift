import ArgumentParser
import Crypto
import EmailEvents
import Foundation
import PostwireConfig
import ProviderSamples
import Providers

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

struct SendTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-test",
        abstract: "Post realistic, correctly signed sample events for a provider to an ingress.",
        discussion: """
            Sends one event of every type the provider reports, signed with the secret the ingress uses \
            (POSTWIRE_SECRET_<PROVIDER>_<SOURCE>; for SendGrid the private key in \
            POSTWIRE_SENDTEST_SENDGRID_PRIVATE_KEY, see `postwire keygen`). Mandrill signs the URL, so the \
            source's `url` must equal --url. Amazon SES messages can only be signed by AWS: they are accepted \
            only by a source marked allowUnauthenticated (local development).
            """
    )

    @OptionGroup var options: ConfigOption

    @Argument(help: "mailgun, sendgrid, postmark, sparkpost, brevo, mailjet, mailersend, resend, standardwebhooks, mandrill or ses.")
    var provider: String

    @Option(help: "The webhook URL (default: http://127.0.0.1:<ingress port>/webhooks/<provider>/<source>).")
    var url: String?

    @Option(help: "The configured source to sign for.")
    var source: String = "default"

    @Option(help: "How many rounds of samples to send.")
    var count: Int = 1

    @Option(help: "ses only: the SNS topic ARN to put in the messages.")
    var topic: String = "arn:aws:sns:us-east-1:000000000000:postwire-send-test"

    func run() async throws {
        let (configuration, secrets, _) = Bootstrap.start(label: "postwire.send-test", configFile: options.config)
        let settings = SourceSettings(provider: provider, name: source)
        let target = url ?? "http://127.0.0.1:\(configuration.ingress.port)/webhooks/\(provider)/\(source)"
        guard let endpoint = URL(string: target) else { throw ValidationError("not a URL: \(target)") }
        let requests = try build(secrets: secrets, settings: settings, target: target)
        var failures = 0
        for webhook in requests {
            let (status, body) = try await post(webhook, to: endpoint)
            print("\(status) \(body)")
            if !(200..<300).contains(status) { failures += 1 }
        }
        print("sent \(requests.count) request(s) to \(target); \(requests.count - failures) accepted")
        if failures > 0 { throw ExitCode(1) }
    }

    private func build(secrets: Secrets, settings: SourceSettings, target: String) throws -> [SignedWebhook] {
        let now = Date()
        func events(_ kinds: [(String, [String: String])], round: Int) -> [SampleEvent] {
            kinds.enumerated().map { event($1, index: $0, round: round, now: now) }
        }
        func each(_ kinds: [(String, [String: String])], _ sign: (SampleEvent) -> SignedWebhook) -> [SignedWebhook] {
            (0..<count).flatMap { round in events(kinds, round: round).map(sign) }
        }
        func secret() throws -> String {
            guard let secret = secrets.sourceSecrets(settings).first else {
                throw ValidationError("set \(settings.secretVariable) to the secret the ingress uses for \(provider)/\(source)")
            }
            return secret
        }
        switch provider {
        case "mailgun":
            let key = try secret()
            return each(SampleWebhooks.mailgunEvents) { SampleWebhooks.mailgun($0, signingKey: key, signedAt: now) }
        case "sendgrid":
            guard let text = secrets.value("POSTWIRE_SENDTEST_SENDGRID_PRIVATE_KEY"),
                let der = Data(base64Encoded: text), let key = try? P256.Signing.PrivateKey(derRepresentation: der)
            else {
                throw ValidationError("set POSTWIRE_SENDTEST_SENDGRID_PRIVATE_KEY (see `postwire keygen sendgrid`)")
            }
            return (0..<count).map {
                SampleWebhooks.sendgrid(events(SampleWebhooks.sendgridEvents, round: $0), privateKey: key, signedAt: now)
            }
        case "postmark":
            let key = try secret()
            return each(SampleWebhooks.postmarkEvents) { SampleWebhooks.postmark($0, secret: key) }
        case "sparkpost":
            let key = try secret()
            return (0..<count).map { SampleWebhooks.sparkpost(events(SampleWebhooks.sparkpostEvents, round: $0), secret: key) }
        case "brevo":
            let key = try secret()
            return each(SampleWebhooks.brevoEvents) { SampleWebhooks.brevo($0, secret: key) }
        case "mailjet":
            let key = try secret()
            return each(SampleWebhooks.mailjetEvents) { SampleWebhooks.mailjet($0, secret: key) }
        case "mailersend":
            let key = try secret()
            return each(SampleWebhooks.mailersendEvents) { SampleWebhooks.mailersend($0, secret: key) }
        case "resend", "standardwebhooks":
            let key = try secret()
            let prefix = provider == "resend" ? "svix-" : "webhook-"
            return each(SampleWebhooks.resendEvents) {
                SampleWebhooks.standardWebhook($0, secret: key, signedAt: now, headerPrefix: prefix)
            }
        case "mandrill":
            // Mandrill signs the URL: the source's configured `url` must be this target.
            let key = try secret()
            return (0..<count).map { SampleWebhooks.mandrill(events(SampleWebhooks.mandrillEvents, round: $0), key: key, url: target) }
        case "ses":
            // Only AWS can sign SNS messages: these reach a source marked allowUnauthenticated only.
            return each(SampleWebhooks.sesEvents) { SampleWebhooks.ses($0, topicArn: topic) }
        case "ses-eventbridge":
            let key = try secret()
            return each(SampleWebhooks.sesEvents) { SampleWebhooks.sesEventBridge($0, apiKey: key) }
        default:
            throw ValidationError("send-test supports: \(ProviderRegistry.supported.map(\.rawValue).joined(separator: ", "))")
        }
    }

    private func event(_ sample: (String, [String: String]), index: Int, round: Int, now: Date) -> SampleEvent {
        SampleEvent(
            espEvent: sample.0,
            recipient: "user\(round * 100 + index)@example.com",
            occurredAt: now,
            campaign: "send-test",
            extra: sample.1
        )
    }

    private func post(_ webhook: SignedWebhook, to url: URL) async throws -> (Int, String) {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        for (name, value) in webhook.headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = Data(webhook.body)
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
        } catch {
            throw ValidationError("cannot reach \(url): \(error.localizedDescription). Is the ingress running?")
        }
    }
}
