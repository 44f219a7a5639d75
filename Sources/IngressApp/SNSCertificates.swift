import Foundation
import NIOConcurrencyHelpers
import Providers
import X509

#if canImport(FoundationNetworking)
    import FoundationNetworking
    import SwiftASN1
#endif

/// SNS signing certificates fetched over HTTPS and kept in memory. The provider has already
/// checked that the URL is an `sns.<region>.amazonaws.com` certificate URL of an allowed topic's
/// message; redirects are not followed, so the certificate comes from that host or not at all.
///
/// Fetches are single-flight (concurrent messages naming one certificate wait for one fetch) and a
/// failure is remembered for `failureTTL`, so a flood of forged messages makes one attempt per
/// URL per minute, not one each. At most `capacity` URLs are remembered; the oldest goes first.
public final class FetchingSNSCertificates: SNSCertificateSource {
    private enum Entry {
        case ready(Certificate)
        case fetching(Task<Certificate, any Error>)
        case failed(until: ContinuousClock.Instant, message: String)
    }
    private struct State {
        var entries: [URL: Entry] = [:]
        var order: [URL] = []
    }
    private let state = NIOLockedValueBox(State())
    private let session: URLSession
    private let failureTTL: Duration
    private let capacity: Int
    private let fetch: @Sendable (URL) async throws -> Certificate

    public init(failureTTL: Duration = .seconds(60), capacity: Int = 64) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 5
        let session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
        self.session = session
        self.failureTTL = failureTTL
        self.capacity = max(1, capacity)
        self.fetch = { url in
            let (data, response) = try await session.data(from: url)
            guard (response as? HTTPURLResponse)?.statusCode == 200 else {
                throw WebhookError(.unavailable, "certificate fetch answered \((response as? HTTPURLResponse)?.statusCode ?? 0)")
            }
            return try Certificate(pemEncoded: String(decoding: data, as: UTF8.self))
        }
    }

    /// With the fetch given (tests count fetches without a network).
    init(failureTTL: Duration, capacity: Int, fetch: @escaping @Sendable (URL) async throws -> Certificate) {
        self.session = URLSession(configuration: .ephemeral)
        self.failureTTL = failureTTL
        self.capacity = max(1, capacity)
        self.fetch = fetch
    }

    public func certificate(for reference: SNSCertificateReference) async throws -> Certificate {
        let url = reference.url
        let task: Task<Certificate, any Error> = try state.withLockedValue { state in
            switch state.entries[url] {
            case .ready(let certificate): return Task { certificate }
            case .fetching(let task): return task
            case .failed(let until, let message) where ContinuousClock.now < until:
                throw WebhookError(.unavailable, "certificate fetch failed recently: \(message)")
            case .failed, nil:
                let fetch = self.fetch
                let task = Task { try await fetch(url) }
                Self.remember(url, .fetching(task), in: &state, capacity: capacity)
                return task
            }
        }
        do {
            let certificate = try await task.value
            state.withLockedValue { Self.remember(url, .ready(certificate), in: &$0, capacity: capacity) }
            return certificate
        } catch {
            let until = ContinuousClock.now + failureTTL
            state.withLockedValue { Self.remember(url, .failed(until: until, message: "\(error)"), in: &$0, capacity: capacity) }
            throw error
        }
    }

    private static func remember(_ url: URL, _ entry: Entry, in state: inout State, capacity: Int) {
        if state.entries.updateValue(entry, forKey: url) == nil { state.order.append(url) }
        while state.order.count > capacity {
            state.entries[state.order.removeFirst()] = nil
        }
    }

    private final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        // Stateless; @unchecked only because NSObject subclasses cannot prove Sendable.
        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
            newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void
        ) {
            completionHandler(nil)
        }
    }
}

/// Certificates pinned in a directory, for air-gapped hosts and tests: the file named like the
/// URL's last path segment (`SimpleNotificationService-….pem`), a name ``SNSCertificateReference``
/// guarantees holds no separator or escape. Nothing is fetched.
public struct PinnedSNSCertificates: SNSCertificateSource {
    let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func certificate(for reference: SNSCertificateReference) async throws -> Certificate {
        let name = reference.fileName
        // The provider checked the name; refuse anything else here too, whoever calls.
        guard !name.contains("/"), !name.hasPrefix("."), name.hasSuffix(".pem") else {
            throw WebhookError(.badSignature, "not a certificate file name: \(name)")
        }
        let path = URL(fileURLWithPath: directory).appendingPathComponent(name).path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WebhookError(.badSignature, "no pinned certificate \(name) in \(directory)")
        }
        return try Certificate(pemEncoded: String(decoding: data, as: UTF8.self))
    }
}
