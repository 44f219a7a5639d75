import ArgumentParser
import Crypto
import Foundation
import Histogram
import LoadGen
import PostwireConfig

struct LoadGenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadgen",
        abstract: "Send realistic, correctly signed webhook traffic to an ingress and report how it held up.",
        discussion: """
            Mailgun events one per request, SendGrid events in batches, signed with the sources' secrets \
            (POSTWIRE_SECRET_MAILGUN_DEFAULT; POSTWIRE_SENDTEST_SENDGRID_PRIVATE_KEY for SendGrid), over \
            keep-alive connections. A share of requests repeat earlier events (ESP retries) and a share are \
            forged (they must be refused). Prints progress every second on a terminal, then requests/s, \
            events/s, statuses and latency percentiles.
            Example: postwire loadgen --mix mailgun=1,sendgrid=1 --batch 100 --concurrency 32 --duration 30
            """
    )

    @OptionGroup var options: ConfigOption

    @Option(help: "Ingress base URL.")
    var url = "http://127.0.0.1:8080"

    @Option(help: "Providers and weights, e.g. mailgun=3,sendgrid=1.")
    var mix = "mailgun=1"

    @Option(help: "Events per SendGrid request.")
    var batch = 100

    @Option(help: "Connections, each with one request in flight.")
    var concurrency = 16

    @Option(help: "Requests per second in all; 0 = as fast as possible.")
    var rate: Double = 0

    @Option(help: "Seconds to run (default 10 unless --count is given).")
    var duration: Double?

    @Option(help: "Requests to send.")
    var count: Int?

    @Option(
        help:
            "Whom the events are about: random, worst (each a new message to a new recipient) or typical (about 5 events a message, recipients repeating)."
    )
    var profile: TrafficProfile = .random

    @Option(help: "Share of requests repeating earlier events, 0…1.")
    var duplicates: Double = 0.05

    @Option(help: "Share of forged requests, 0…1.")
    var bad: Double = 0.01

    @Option(help: "Requests to make and sign before the clock starts (benchmarks: so the generator is not what is measured).")
    var prepare = 0

    func validate() throws {
        guard (0...1).contains(duplicates), (0...1).contains(bad) else { throw ValidationError("--duplicates and --bad are shares, 0…1") }
        guard concurrency >= 1, batch >= 1, rate >= 0 else { throw ValidationError("--concurrency and --batch must be at least 1") }
        _ = try weights()
    }

    func weights() throws -> [String: Double] {
        var result: [String: Double] = [:]
        for part in mix.split(separator: ",") {
            let pair = part.split(separator: "=")
            guard let name = pair.first.map(String.init), TrafficPlan.providers.contains(name) else {
                throw ValidationError("--mix: use \(TrafficPlan.providers.joined(separator: ", ")) with weights, e.g. mailgun=3,sendgrid=1")
            }
            result[name] = pair.count > 1 ? Double(pair[1]) ?? 1 : 1
        }
        return result
    }

    func run() async throws {
        let (_, secrets, _) = Bootstrap.start(label: "postwire.loadgen", configFile: options.config)
        guard let target = URL(string: url), let host = target.host else { throw ValidationError("not a URL: \(url)") }
        let weights = try weights()
        let mailgunKey = secrets.value("POSTWIRE_SECRET_MAILGUN_DEFAULT") ?? ""
        if weights["mailgun"] != nil, mailgunKey.isEmpty { throw ValidationError("set POSTWIRE_SECRET_MAILGUN_DEFAULT") }
        var sendgridKey: P256.Signing.PrivateKey?
        if weights["sendgrid"] != nil {
            guard let text = secrets.value("POSTWIRE_SENDTEST_SENDGRID_PRIVATE_KEY"), let der = Data(base64Encoded: text),
                let key = try? P256.Signing.PrivateKey(derRepresentation: der)
            else { throw ValidationError("set POSTWIRE_SENDTEST_SENDGRID_PRIVATE_KEY (see `postwire keygen sendgrid`)") }
            sendgridKey = key
        }
        let plan = TrafficPlan(
            mix: weights, batchSize: batch, duplicateShare: duplicates, badShare: bad, profile: profile, mailgunKey: mailgunKey,
            sendgridKey: sendgridKey)
        let shape = LoadShape(
            concurrency: concurrency, rate: rate, duration: (duration ?? (count == nil ? 10 : nil)).map { .milliseconds(Int64($0 * 1000)) },
            count: count, prepared: prepare)
        let terminal = isatty(STDERR_FILENO) != 0
        let report = try await LoadRun.run(host: host, port: target.port ?? 80, plan: plan, shape: shape) { live in
            guard terminal else { return }
            let line = String(
                format: "\r%6.1f s  %8d requests  %9.0f req/s  %10.0f events/s  non-2xx %d   ", live.seconds, live.requests,
                live.requestsPerSecond, live.eventsPerSecond, live.statuses.filter { !(200..<300).contains($0.key) }.values.reduce(0, +))
            FileHandle.standardError.write(Data(line.utf8))
        }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        print(Self.render(report, url: url, mix: mix, profile: profile, shape: shape))
        if report.unexpected > 0 { throw ExitCode(1) }
    }

    static func render(_ report: LoadReport, url: String, mix: String, profile: TrafficProfile, shape: LoadShape) -> String {
        let micros = { (percentile: Double) in String(format: "%.2f ms", Double(report.latency.valueAtPercentile(percentile)) / 1000) }
        let statuses = report.statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        return """
            target      \(url)  mix \(mix)  connections \(shape.concurrency)\(shape.rate > 0 ? "  rate \(shape.rate)/s" : "")
            profile     \(profile.rawValue): \(profile.summary)
            requests    \(report.requests) in \(String(format: "%.2f", report.seconds)) s = \(String(format: "%.0f", report.requestsPerSecond)) req/s
            events      \(report.eventsAccepted) accepted = \(String(format: "%.0f", report.eventsPerSecond)) events/s
            statuses    \(statuses)
            unexpected  \(report.unexpected) (a forged request accepted or a good one refused)
            latency     p50 \(micros(50))  p90 \(micros(90))  p99 \(micros(99))  p99.9 \(micros(99.9))  max \(micros(100))
            cpu         \(String(format: "%.2f", report.cpuSeconds)) s of this generator while sending\(
                report.requests > 0 ? String(format: " = %.0f µs a request", report.cpuSeconds * 1e6 / Double(report.requests)) : "")
            """
    }
}

extension TrafficProfile: ExpressibleByArgument {}
