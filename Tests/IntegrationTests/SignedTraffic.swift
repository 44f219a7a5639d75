import Crypto
import Foundation
import ProviderSamples

/// Signed ESP traffic with the ESPs' own duplicates, as the fault tests send it through a running
/// ingress. Each returns (requests accepted with 200, requests sent).
enum SignedTraffic {
    /// Every Mailgun event `rounds` times, each time signed anew (an ESP's retry); `pause` after
    /// each request of the first round.
    static func mailgun(
        _ samples: [SampleEvent], url: String, key: String, rounds: Int = 2, pause: Duration
    ) async throws -> (accepted: Int, sent: Int) {
        var accepted = 0, sent = 0
        for round in 0..<rounds {
            for sample in samples {
                let webhook = SampleWebhooks.mailgun(sample, signingKey: key, signedAt: Date())
                let reply = try await HTTP.request(url + "/webhooks/mailgun", headers: webhook.headers, body: webhook.body)
                sent += 1
                if reply.status == 200 { accepted += 1 }
                if round == 0 { try await Task.sleep(for: pause) }
            }
        }
        return (accepted, sent)
    }

    /// Every SendGrid batch `copies` times in a row, each signed at another second (an identical
    /// request is a replay, refused by its guard); `pause` after each batch.
    static func sendgrid(
        _ batches: [[SampleEvent]], url: String, key: P256.Signing.PrivateKey, copies: Int, pause: Duration
    ) async throws -> (accepted: Int, sent: Int) {
        var accepted = 0, sent = 0
        for batch in batches {
            for copy in 0..<copies {
                let webhook = SampleWebhooks.sendgrid(batch, privateKey: key, signedAt: Date().addingTimeInterval(Double(copy)))
                let reply = try await HTTP.request(url + "/webhooks/sendgrid", headers: webhook.headers, body: webhook.body)
                sent += 1
                if reply.status == 200 { accepted += 1 }
            }
            try await Task.sleep(for: pause)
        }
        return (accepted, sent)
    }
}
