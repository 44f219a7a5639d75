import Foundation
import X509

/// Where SNS signing certificates come from: an I/O seam. The ingress fetches and caches them
/// (or reads a pinned directory); tests give them directly. Only URLs that passed
/// ``SNSMessage/isAllowedCertificateURL(_:)`` are ever asked for.
public protocol SNSCertificateSource: Sendable {
    func certificate(at url: URL) async throws -> Certificate
}

/// No certificates at all: every SNS message fails verification. The default when a process has
/// no SES source.
public struct NoSNSCertificates: SNSCertificateSource {
    public init() {}
    public func certificate(at url: URL) async throws -> Certificate {
        throw WebhookError(.badSignature, "no SNS certificate source is configured")
    }
}
