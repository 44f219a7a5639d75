import Crypto
import EmailEvents
import Foundation
import NIOConcurrencyHelpers
import SwiftASN1
import Testing
import X509
import _CryptoExtras

@testable import IngressApp
@testable import Providers

/// The SNS holes an attack run found, each closed: a pinned certificate reached by path traversal,
/// S3 hosts taken for SNS, fetches before the topic check, failures fetched again and again, and
/// old notifications accepted.
@Suite struct SNSCertificateTests {
    static let topic = "arn:aws:sns:us-east-1:123456789012:postwire-ses-events"

    /// A certificate and key of our own, as an attacker would make them.
    struct Signer {
        let key: _RSA.Signing.PrivateKey
        let pem: String

        init() throws {
            key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            let certificateKey = Certificate.PrivateKey(key)
            let name = try DistinguishedName { CommonName("postwire test signer") }
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: certificateKey.publicKey, notValidBefore: Date() - 3600,
                notValidAfter: Date() + 3600, issuer: name, subject: name, signatureAlgorithm: .sha256WithRSAEncryption,
                extensions: Certificate.Extensions {}, issuerPrivateKey: certificateKey)
            pem = try certificate.serializeAsPEM().pemString
        }

        /// A Notification signed (SignatureVersion 2) as SNS signs it.
        func notification(certURL: String, topic: String = SNSCertificateTests.topic, timestamp: Date = Date()) throws -> [UInt8] {
            let id = UUID().uuidString.lowercased()
            let time = ISO8601DateFormatter().string(from: timestamp)
            let message =
                #"{"eventType":"Delivery","mail":{"messageId":"m-1","timestamp":"\#(time)","destination":["a@example.com"]},"delivery":{"timestamp":"\#(time)","recipients":["a@example.com"]}}"#
            let signed = "Message\n\(message)\nMessageId\n\(id)\nTimestamp\n\(time)\nTopicArn\n\(topic)\nType\nNotification\n"
            let signature = try key.signature(for: Array(signed.utf8), padding: .insecurePKCS1v1_5)
            let body: [String: String] = [
                "Type": "Notification", "MessageId": id, "TopicArn": topic, "Message": message, "Timestamp": time,
                "SignatureVersion": "2", "Signature": signature.rawRepresentation.base64EncodedString(), "SigningCertURL": certURL,
            ]
            return Array(try JSONSerialization.data(withJSONObject: body))
        }
    }

    static func receive(
        _ body: [UInt8], _ certificates: any SNSCertificateSource, window: Int = 3900
    ) async throws(WebhookError)
        -> ReceivedWebhook
    {
        let request = WebhookRequest(headers: ["content-type": "text/plain"], body: body, receivedAt: Date())
        return try await SESProvider(certificates: certificates).receive(
            request, source: "default", credentials: SourceCredentials(secrets: [], replayWindow: window, allowedTopics: [topic]),
            now: Date())
    }

    static func code(_ body: [UInt8], _ certificates: any SNSCertificateSource, window: Int = 3900) async -> WebhookError.Code? {
        do {
            _ = try await receive(body, certificates, window: window)
            return nil
        } catch {
            return error.code
        }
    }

    /// A pinned directory, and the attacker's certificate one level beside it.
    static func directories(_ signer: Signer) throws -> (pinned: String, cleanup: () -> Void) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sns-\(UUID().uuidString.prefix(8))")
        let pinned = root.appendingPathComponent("pinned")
        let evil = root.appendingPathComponent("evil")
        try FileManager.default.createDirectory(at: pinned, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: evil, withIntermediateDirectories: true)
        try Data(signer.pem.utf8).write(to: evil.appendingPathComponent("evil.pem"))
        return (pinned.path, { try? FileManager.default.removeItem(at: root) })
    }

    @Test(arguments: [
        "https://sns.us-east-1.amazonaws.com/..%2fevil%2fevil.pem", "https://sns.us-east-1.amazonaws.com/..%2Fevil%2Fevil.pem",
        "https://sns.us-east-1.amazonaws.com/%2e%2e%2fevil%2fevil.pem", "https://sns.us-east-1.amazonaws.com/../evil/evil.pem",
        "https://sns.us-east-1.amazonaws.com/evil/evil.pem",
    ])
    func aPinnedCertificateCannotBeReachedByPathTraversal(url: String) async throws {
        let signer = try Signer()
        let (pinned, cleanup) = try Self.directories(signer)
        defer { cleanup() }
        let code = await Self.code(try signer.notification(certURL: url), PinnedSNSCertificates(directory: pinned))
        #expect(code == .badSignature, "\(url): \(String(describing: code))")

        // The same signer, pinned properly, is accepted: the refusal above is the path's.
        try Data(signer.pem.utf8).write(to: URL(fileURLWithPath: pinned).appendingPathComponent("SimpleNotificationService-own.pem"))
        let good = try signer.notification(certURL: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-own.pem")
        #expect(try await Self.receive(good, PinnedSNSCertificates(directory: pinned)).events.count == 1)
    }

    @Test(arguments: [
        "https://sns.s3.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.s3-website-us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.s3-accelerate.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-x.pem",
        "https://user@sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem?x=1",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-x.pem#f",
        "https://sns.evil.us-east-1.amazonaws.com/SimpleNotificationService-x.pem",
        "https://sns.us-east-1.amazonaws.com/a/SimpleNotificationService-x.pem",
        "https://sns.useast1.amazonaws.com/SimpleNotificationService-x.pem",
    ])
    func onlySNSHostsAndSingleSegmentPathsMayBeFetched(url: String) async throws {
        let fetches = NIOLockedValueBox(0)
        let source = FetchingSNSCertificates(failureTTL: .seconds(60), capacity: 8) { _ in
            fetches.withLockedValue { $0 += 1 }
            throw WebhookError(.unavailable, "no network in tests")
        }
        #expect(await Self.code(try Signer().notification(certURL: url), source) == .badSignature, "\(url)")
        #expect(fetches.withLockedValue { $0 } == 0, "\(url) was fetched")
    }

    @Test func subscribeURLsMustBeSNSEndpoints() {
        #expect(SNSMessage.isAllowedSubscribeURL("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=x&Token=y"))
        for bad in [
            "https://sns.s3.amazonaws.com/?Action=ConfirmSubscription", "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.us-east-1.amazonaws.com:444/?Action=ConfirmSubscription", "https://a@sns.us-east-1.amazonaws.com/?Action=x",
            "https://sns.us-east-1.amazonaws.com/evil?Action=ConfirmSubscription", "https://sns.us-east-1.amazonaws.com/",
        ] {
            #expect(!SNSMessage.isAllowedSubscribeURL(bad), "\(bad)")
        }
    }

    /// A message from a topic the source does not allow makes the ingress fetch nothing.
    @Test func theTopicIsCheckedBeforeAnyFetch() async throws {
        let fetches = NIOLockedValueBox(0)
        let source = FetchingSNSCertificates(failureTTL: .seconds(60), capacity: 64) { _ in
            fetches.withLockedValue { $0 += 1 }
            throw WebhookError(.unavailable, "no network in tests")
        }
        let signer = try Signer()
        for i in 0..<40 {
            let body = try signer.notification(
                certURL: "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-\(i).pem", topic: "arn:aws:sns:us-east-1:1:other")
            #expect(await Self.code(body, source) == .badSignature)
        }
        #expect(fetches.withLockedValue { $0 } == 0)
    }

    /// Concurrent messages naming one certificate share one fetch; a failed fetch is not retried
    /// for a while.
    @Test func fetchesAreSingleFlightAndFailuresAreRemembered() async throws {
        let signer = try Signer()
        let certificate = try Certificate(pemEncoded: signer.pem)
        let fetches = NIOLockedValueBox(0)
        let slow = FetchingSNSCertificates(failureTTL: .seconds(60), capacity: 8) { _ in
            fetches.withLockedValue { $0 += 1 }
            try await Task.sleep(for: .milliseconds(100))
            return certificate
        }
        let url = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-one.pem"
        let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask { try await Self.receive(try signer.notification(certURL: url), slow).events.count }
            }
            return try await group.reduce(0, +)
        }
        #expect(accepted == 20 && fetches.withLockedValue { $0 } == 1)

        let failures = NIOLockedValueBox(0)
        let failing = FetchingSNSCertificates(failureTTL: .seconds(60), capacity: 8) { _ in
            failures.withLockedValue { $0 += 1 }
            throw WebhookError(.unavailable, "503 from the certificate host")
        }
        for _ in 0..<40 {
            #expect(await Self.code(try signer.notification(certURL: url), failing) == .unavailable)
        }
        #expect(failures.withLockedValue { $0 } == 1)
    }

    /// A captured notification replayed long after it was published is refused (its MessageId
    /// guard has expired by then); a recent one is accepted.
    @Test func oldNotificationsAreRefused() async throws {
        let signer = try Signer()
        let (pinned, cleanup) = try Self.directories(signer)
        defer { cleanup() }
        try Data(signer.pem.utf8).write(to: URL(fileURLWithPath: pinned).appendingPathComponent("SimpleNotificationService-own.pem"))
        let url = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-own.pem"
        let certificates = PinnedSNSCertificates(directory: pinned)
        let old = try signer.notification(certURL: url, timestamp: Date(timeIntervalSince1970: 1_000_000_000))  // 2001
        #expect(await Self.code(old, certificates) == .staleTimestamp)
        #expect(await Self.code(try signer.notification(certURL: url, timestamp: Date() - 3800), certificates) == nil)
        #expect(await Self.code(try signer.notification(certURL: url, timestamp: Date() - 4000), certificates) == .staleTimestamp)
        #expect(SESProvider().defaultReplayWindow == 3900)
    }
}
