import Foundation
import NIOConcurrencyHelpers
import Providers
import X509

#if canImport(FoundationNetworking)
    import FoundationNetworking
    import SwiftASN1
#endif

/// SNS signing certificates fetched over HTTPS and kept in memory. The provider has already
/// checked that the URL is an `sns.<region>.amazonaws.com` certificate URL; redirects are not
/// followed, so the certificate comes from that host or not at all.
public final class FetchingSNSCertificates: SNSCertificateSource {
    private let cache = NIOLockedValueBox<[URL: Certificate]>([:])
    private let session: URLSession

    public init() {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 5
        session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    public func certificate(at url: URL) async throws -> Certificate {
        if let cached = cache.withLockedValue({ $0[url] }) { return cached }
        let (data, response) = try await session.data(from: url)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw WebhookError(.unavailable, "certificate fetch answered \((response as? HTTPURLResponse)?.statusCode ?? 0)")
        }
        let certificate = try Certificate(pemEncoded: String(decoding: data, as: UTF8.self))
        cache.withLockedValue { $0[url] = certificate }
        return certificate
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
/// URL's last path component (`SimpleNotificationService-….pem`). Nothing is fetched.
public struct PinnedSNSCertificates: SNSCertificateSource {
    let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func certificate(at url: URL) async throws -> Certificate {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(url.lastPathComponent).path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WebhookError(.badSignature, "no pinned certificate \(url.lastPathComponent) in \(directory)")
        }
        return try Certificate(pemEncoded: String(decoding: data, as: UTF8.self))
    }
}
