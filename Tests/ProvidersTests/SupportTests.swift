import EmailEvents
import Foundation
import Testing

@testable import Providers

@Suite struct ISO8601Tests {
    @Test(arguments: [
        ("2016-04-27T16:28:50.3963933-04:00", Int64(1_461_788_930_396_393)),
        ("2019-11-05T16:33:54.9070259Z", Int64(1_572_971_634_907_026)),
        ("2023-11-14T22:13:20Z", Int64(1_700_000_000_000_000)),
        ("2023-11-14T22:13:20.5+00:00", Int64(1_700_000_000_500_000)),
        ("2023-11-14 23:13:20+0100", Int64(1_700_000_000_000_000)),
        ("2023-11-14T22:13:20.9999996Z", Int64(1_700_000_001_000_000)),
        ("1969-12-31T23:59:59Z", Int64(-1_000_000)),
        ("2024-02-29T00:00:00Z", Int64(1_709_164_800_000_000)),
    ])
    func parsesToTheMicrosecond(_ text: String, _ micros: Int64) {
        #expect(ISO8601.parse(text)?.unixMicroseconds == micros)
    }

    @Test(arguments: ["", "2023-11-14", "2023-13-14T22:13:20Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20Zjunk", "yesterday"])
    func refusesNonsense(_ text: String) {
        #expect(ISO8601.parse(text) == nil)
    }
}

@Suite struct HTTPCredentialsTests {
    static func request(_ authorization: String?) -> WebhookRequest {
        WebhookRequest(headers: authorization.map { ["Authorization": $0] } ?? [:], body: [], receivedAt: Date())
    }

    func outcome(_ authorization: String?, secrets: [String]) -> WebhookError.Code? {
        do {
            try HTTPCredentials.verify(Self.request(authorization), credentials: SourceCredentials(secrets: secrets, replayWindow: 0))
            return nil
        } catch {
            return error.code
        }
    }

    @Test func basicAndBearer() {
        let basic = "Basic " + Data("hook:s3cret".utf8).base64EncodedString()
        #expect(outcome(basic, secrets: ["hook:s3cret"]) == nil)
        #expect(outcome(basic, secrets: ["old:pw", "hook:s3cret"]) == nil)
        #expect(outcome(basic, secrets: ["hook:other"]) == .badSignature)
        #expect(outcome("Bearer tok-123", secrets: ["tok-123"]) == nil)
        #expect(outcome("bearer tok-123", secrets: ["tok-124"]) == .badSignature)
        // A bearer secret is not accepted as basic credentials and vice versa.
        #expect(outcome("Basic " + Data("tok-123".utf8).base64EncodedString(), secrets: ["tok-123"]) == .badSignature)
        #expect(outcome(nil, secrets: ["tok"]) == .missingCredentials)
        #expect(outcome("Digest abc", secrets: ["tok"]) == .badSignature)
        #expect(outcome("Basic %%%", secrets: ["a:b"]) == .badSignature)
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!ConstantTime.equals(Array("abc".utf8), Array("abd".utf8)))
        #expect(!ConstantTime.equals(Array("abc".utf8), Array("abcd".utf8)))
    }
}
