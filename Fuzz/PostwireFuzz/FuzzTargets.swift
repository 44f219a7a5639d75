import EmailEvents
import Foundation
import IngressApp
import PostwireConfig
import RedisSetup

@testable import Providers
@testable import RedisStreams

/// The fuzz targets: each takes arbitrary bytes to one parser and must come back (with a result or
/// a typed error), never trap, hang or leak. Providers are reached with authentication satisfied
/// (a source that takes unsigned requests), so the bytes get to the normalizers.
enum FuzzTargets {
    static let providers: [String: any WebhookProvider] = Dictionary(
        uniqueKeysWithValues: ProviderRegistry.supported.compactMap { provider in
            ProviderRegistry.provider(for: provider).map { (provider.rawValue, $0) }
        })
    static let open = SourceCredentials(secrets: [], replayWindow: 0, allowUnauthenticated: true)
    static let receivedAt = Date(timeIntervalSince1970: 1_700_000_000)

    static let names =
        providers.keys.sorted() + [
            "stream-entry", "side-entry", "iso8601", "form", "multipart", "sns", "event-objects", "resp", "cluster-reply", "configuration",
            "allowlist", "json",
        ]

    static func run(_ target: String, _ bytes: [UInt8]) {
        switch target {
        case "stream-entry":
            // An entry's `e` field (the event's JSON) and `r` field (raw bytes), as a worker reads them.
            _ = try? StreamEntryCodec.decode(["v": Array("1".utf8), "e": bytes, "r": Array(bytes.prefix(16))])
        case "side-entry":
            // Quarantine and dead-letter entries as `postwire replay` reads them: NUL-separated
            // name, value, name, value… (values are bytes, so any byte but NUL).
            let parts = bytes.split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
            var fields: [String: [UInt8]] = [:]
            for index in stride(from: 0, to: parts.count - 1, by: 2) {
                fields[String(decoding: parts[index], as: UTF8.self)] = parts[index + 1]
            }
            if let entry = try? QuarantineEntry(fields: fields) {
                _ = try? QuarantineEntry(fields: Dictionary(entry.fields, uniquingKeysWith: { _, last in last }))
            }
            if let dead = try? DeadLetterEntry(fields: fields) { _ = try? StreamEntryCodec.decode(dead.original) }
        case "json":
            // The reader against JSONSerialization: the same value, or both refuse. Foundation also
            // reads UTF-16 and UTF-32 (a NUL among the first bytes, or their byte order marks);
            // the reader does not, so those inputs are only parsed.
            let ours = JSONReader.parse(bytes)
            let utf8Only = !(bytes.prefix(4).contains(0) || bytes.starts(with: [0xFE, 0xFF]) || bytes.starts(with: [0xFF, 0xFE]))
            if utf8Only {
                let foundation = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
                precondition(
                    JSONReader.equivalent(ours, foundation),
                    "JSONReader and JSONSerialization differ on \(bytes.count) bytes: \(String(describing: ours)) / \(String(describing: foundation))"
                )
            }
        case "iso8601":
            _ = ISO8601.parse(String(decoding: bytes, as: UTF8.self)).map { EventTime.checked($0, receivedAt: receivedAt) }
        case "form":
            _ = FormBody.parse(bytes)
        case "multipart":
            _ = MultipartForm.parse(bytes, boundary: "b0undary")
        case "sns":
            if let object = JSONObject.parse(bytes), let message = try? SNSMessage(object) {
                _ = message.stringToSign
                _ = SNSMessage.isAllowedCertificateURL(message.signingCertURL)
                _ = message.subscribeURL.map(SNSMessage.isAllowedSubscribeURL)
            }
        case "event-objects":
            _ = try? EventObjects.parse(bytes)
        case "resp":
            // Redis replies as they arrive from the socket, split at an arbitrary point.
            let reader = HiredisReader()
            let split = bytes.isEmpty ? 0 : Int(bytes[0]) % bytes.count
            for part in [bytes[..<split], bytes[split...]] {
                guard (try? part.withUnsafeBytes { try reader.feed($0) }) != nil else { return }
                while let value = try? reader.next() { _ = value.array?.count }
            }
        case "cluster-reply":
            // What a cluster node answers: RESP replies read as CLUSTER SLOTS, error replies as
            // MOVED/ASK redirects; the bytes also as a key to hash and as a configured host:port.
            let reader = HiredisReader()
            let asked = RedisNode(host: "127.0.0.1", port: 7000)
            if (try? bytes.withUnsafeBytes { try reader.feed($0) }) != nil {
                while let value = try? reader.next() {
                    _ = try? SlotMap(clusterSlots: value, asked: asked)
                    if case .error(let message) = value { _ = ClusterRedirect(message: message, from: asked) }
                }
            }
            _ = ClusterRedirect(message: String(decoding: bytes, as: UTF8.self), from: asked)
            _ = HashSlot.of(bytes)
            _ = RedisNode(parsing: Substring(String(decoding: bytes, as: UTF8.self)), defaultPort: 6379)
        case "configuration":
            // A configuration file, and the same bytes as POSTWIRE_SOURCES; a file that loads also
            // has its Redis topology built (node addresses parsed).
            let path = NSTemporaryDirectory() + "postwire-fuzz-\(getpid()).json"
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            if let configuration = try? ConfigurationLoader.load(file: path, environment: [:]) {
                _ = try? configuration.redis.clientConfiguration(password: nil)
            }
            _ = try? ConfigurationLoader.load(environment: ["POSTWIRE_SOURCES": String(decoding: bytes, as: UTF8.self)])
        case "allowlist":
            // CIDR lists and X-Forwarded-For headers.
            let text = String(decoding: bytes, as: UTF8.self)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let list = (try? IPAllowlist(lines)) ?? .none
            _ = list.contains(text)
            _ = IPAllowlist.clientAddress(peer: lines.first, forwardedFor: lines.last, trustedProxies: list)
        default:
            guard let provider = providers[target] else { return }
            // The content type a provider's requests carry; Mailgun also with a multipart boundary.
            let contentType =
                switch target {
                case "mandrill": "application/x-www-form-urlencoded"
                case "mailgun": bytes.first == UInt8(ascii: "-") ? "multipart/form-data; boundary=b0undary" : "application/json"
                case "ses": "text/plain"
                default: "application/json"
                }
            let request = WebhookRequest(headers: ["content-type": contentType], body: bytes, receivedAt: receivedAt)
            let authentication = Synchronously.run { try? await provider.authenticate(request, credentials: open, now: receivedAt) }
            if let authentication {
                let received = provider.normalize(request, authentication, source: "default")
                for event in received.events {
                    // What the ingress then does with an event: encode it for the stream and read it back.
                    _ = try? StreamEntryCodec.decode(Dictionary(StreamEntryCodec.encode(event), uniquingKeysWith: { a, _ in a }))
                }
            }
        }
    }
}

/// Runs an async function to completion from synchronous code (libFuzzer calls in synchronously).
/// Only SES suspends (for a certificate), and its unsigned source fetches none.
enum Synchronously {
    static func run<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            box.value = await body()
            done.signal()
        }
        done.wait()
        return box.value!
    }

    /// Written by one task before the semaphore is signalled, read after it: no overlap.
    final class Box<T>: @unchecked Sendable {
        var value: T?
    }
}
