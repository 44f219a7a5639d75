import ArgumentParser
import Crypto
import EmailEvents
import Foundation
import PostwireConfig
import Providers

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

struct SendTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send-test",
        abstract: "Post realistic, correctly signed sample events for a provider to an ingress.",
        discussion: """
            Sends one event of every type the provider reports, signed with the secret the ingress
            uses (POSTWIRE_SECRET_<PROVIDER>_<SOURCE>; for SendGrid the private key in
            POSTWIRE_SENDTEST_SENDGRID_PRIVATE_KEY, see `postwire keygen`).
            """
    )

    @OptionGroup var options: ConfigOption

    @Argument(help: "mailgun or sendgrid.")
    var provider: String

    @Option(help: "The webhook URL (default: http://127.0.0.1:<ingress port>/webhooks/<provider>/<source>).")
    var url: String?

    @Option(help: "The configured source to sign for.")
    var source: String = "default"

    @Option(help: "How many rounds of samples to send.")
    var count: Int = 1

    func run() async throws {
        let (configuration, secrets, _) = Bootstrap.start(label: "postwire.send-test", configFile: options.config)
        let settings = SourceSettings(provider: provider, name: source)
        let target = url ?? "http://127.0.0.1:\(configuration.ingress.port)/webhooks/\(provider)/\(source)"
        guard let endpoint = URL(string: target) else { throw ValidationError("not a URL: \(target)") }
        let requests = try build(secrets: secrets, settings: settings)
        var failures = 0
        for webhook in requests {
            let (status, body) = try await post(webhook, to: endpoint)
            print("\(status) \(body)")
            if !(200..<300).contains(status) { failures += 1 }
        }
        print("sent \(requests.count) request(s) to \(target); \(requests.count - failures) accepted")
        if failures > 0 { throw ExitCode(1) }
    }

    private func build(secrets: Secrets, settings: SourceSettings) throws -> [SignedWebhook] {
        let now = Date()
        switch provider {
        case "mailgun":
            guard let key = secrets.sourceSecrets(settings).first else {
                throw ValidationError("set \(settings.secretVariable) to the Mailgun signing key the ingress uses")
            }
            return (0..<count).flatMap { round in
                SampleWebhooks.mailgunEvents.enumerated().map { index, sample in
                    SampleWebhooks.mailgun(event(sample, index: index, round: round, now: now), signingKey: key, signedAt: now)
                }
            }
        case "sendgrid":
            guard let text = secrets.value("POSTWIRE_SENDTEST_SENDGRID_PRIVATE_KEY"),
                let der = Data(base64Encoded: text), let key = try? P256.Signing.PrivateKey(derRepresentation: der)
            else {
                throw ValidationError("set POSTWIRE_SENDTEST_SENDGRID_PRIVATE_KEY (see `postwire keygen sendgrid`)")
            }
            return (0..<count).map { round in
                let events = SampleWebhooks.sendgridEvents.enumerated().map { event($1, index: $0, round: round, now: now) }
                return SampleWebhooks.sendgrid(events, privateKey: key, signedAt: now)
            }
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
