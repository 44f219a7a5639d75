import Foundation
import X509

/// Which signing certificate an SNS message names, after ``SNSURL`` accepted its URL: the URL to
/// fetch it from, and its file name (letters, digits, `-`, `_`, then `.pem`: no separator or
/// escape can lead outside a pinned directory).
public struct SNSCertificateReference: Sendable, Hashable {
    public var url: URL
    public var fileName: String

    public init(url: URL, fileName: String) {
        self.url = url
        self.fileName = fileName
    }
}

/// Where SNS signing certificates come from: an I/O seam. The ingress fetches and caches them
/// (or reads a pinned directory); tests give them directly. Only references that ``SNSURL``
/// accepted are ever asked for, and only for messages from an allowed topic.
public protocol SNSCertificateSource: Sendable {
    func certificate(for reference: SNSCertificateReference) async throws -> Certificate
}

/// No certificates at all: every SNS message fails verification. The default when a process has
/// no SES source.
public struct NoSNSCertificates: SNSCertificateSource {
    public init() {}
    public func certificate(for reference: SNSCertificateReference) async throws -> Certificate {
        throw WebhookError(.badSignature, "no SNS certificate source is configured")
    }
}
