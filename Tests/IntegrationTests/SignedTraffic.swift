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

/// One run's Mailgun events (a request each, signed at `now`) and SendGrid events in batches of
/// 60 (signed at `now`, and again a second later: an ESP's retry), with the hourly counts they must
/// add up to. The events fall in the hour before `now`'s.
struct MixedTraffic: Sendable {
    let mailgunSamples: [SampleEvent]
    let mailgun: [SignedWebhook]
    let batches: [SignedWebhook]
    let resignedBatches: [SignedWebhook]
    let expected: [PipelineTests.CountKey: Int64]

    init(run: String, mailgun: Int, sendgrid: Int, now: Date) {
        let base = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600 - 3600)
        mailgunSamples = PipelineTests.samples(mailgun, kinds: SampleWebhooks.mailgunEvents, prefix: "mg-\(run)", base: base)
        let sendgridSamples = PipelineTests.samples(sendgrid, kinds: SampleWebhooks.sendgridEvents, prefix: "sg-\(run)", base: base)
        self.mailgun = mailgunSamples.map { SampleWebhooks.mailgun($0, signingKey: PipelineTests.mailgunKey, signedAt: now) }
        let slices = stride(from: 0, to: sendgrid, by: 60).map { Array(sendgridSamples[$0..<min($0 + 60, sendgrid)]) }
        batches = slices.map { SampleWebhooks.sendgrid($0, privateKey: PipelineTests.sendgridKey, signedAt: now) }
        resignedBatches = slices.map { SampleWebhooks.sendgrid($0, privateKey: PipelineTests.sendgridKey, signedAt: now + 1) }
        expected = PipelineTests.expectedCounts(mailgunSamples, provider: "mailgun", senderDomain: "mg.postwire.test")
            .merging(PipelineTests.expectedCounts(sendgridSamples, provider: "sendgrid", senderDomain: "")) { $0 + $1 }
    }
}
