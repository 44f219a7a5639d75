import Crypto
import Foundation
import IngressApp
import PostwireConfig
import Providers

/// Builds correctly authenticated requests for any body, as each ESP would sign it, with the
/// fixture secrets of ``AllProvidersIngressTests/environment()``: so a test can send a mutated or
/// hostile body that still authenticates, and reach the parsers through the real ingress.
enum Signers {
    struct Request {
        var provider: String
        var headers: [String: String]
        var body: [UInt8]
    }

    static let mailgunKey = "postwire-fixture-signing-key"
    static let mailersendSecret = "postwire-mailersend-fixture-secret"
    static let resendSecret = "whsec_cG9zdHdpcmUtcmVzZW5kLWZpeHR1cmUtc2VjcmV0"
    static let mandrillKey = "postwire-mandrill-fixture-key"
    static let basic = "Basic " + Data(AllProvidersIngressTests.basic.utf8).base64EncodedString()

    static var sendgridKey: P256.Signing.PrivateKey {
        let vectors = try? JSONSerialization.jsonObject(with: Data(AllProvidersIngressTests.read("vectors/sendgrid-ecdsa.json")))
        let pkcs8 = ((vectors as? [String: Any])?["privateKeyPKCS8"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
        return (try? P256.Signing.PrivateKey(derRepresentation: pkcs8)) ?? P256.Signing.PrivateKey()
    }

    static var mandrillURL: String {
        let signature = try? JSONSerialization.jsonObject(with: Data(AllProvidersIngressTests.read("mandrill/batch.signature.json")))
        return ((signature as? [String: String])?["url"]) ?? ""
    }

    /// `body` as `provider` would post it now, authenticated. Mailgun: `body` is the event-data
    /// JSON, wrapped with a fresh signature block; Mandrill: `body` is the `mandrill_events` JSON.
    static func sign(_ provider: String, _ body: [UInt8], at date: Date = Date(), mailgunKey: String = Signers.mailgunKey) -> Request {
        let json = ["content-type": "application/json"]
        switch provider {
        case "mailgun":
            let timestamp = String(Int(date.timeIntervalSince1970))
            let token = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            let mac = HMAC<SHA256>.authenticationCode(
                for: Array((timestamp + token).utf8), using: SymmetricKey(data: Array(mailgunKey.utf8)))
            let signature = #"{"timestamp":"\#(timestamp)","token":"\#(token)","signature":"\#(hex(mac))"}"#
            return Request(
                provider: provider, headers: json,
                body: Array(#"{"signature":\#(signature),"event-data":"#.utf8) + body + [UInt8(ascii: "}")])
        case "sendgrid":
            let timestamp = String(Int(date.timeIntervalSince1970))
            let signature = (try? sendgridKey.signature(for: Array(timestamp.utf8) + body))?.derRepresentation.base64EncodedString() ?? ""
            return Request(
                provider: provider,
                headers: json.merging([SendGridProvider.signatureHeader: signature, SendGridProvider.timestampHeader: timestamp]) { a, _ in
                    a
                },
                body: body)
        case "mandrill":
            let events = String(decoding: body, as: UTF8.self)
            let mac = HMAC<Insecure.SHA1>.authenticationCode(
                for: Array((mandrillURL + "mandrill_events" + events).utf8), using: SymmetricKey(data: Array(mandrillKey.utf8)))
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            return Request(
                provider: provider,
                headers: ["content-type": "application/x-www-form-urlencoded", "x-mandrill-signature": Data(mac).base64EncodedString()],
                body: Array(("mandrill_events=" + (events.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")).utf8))
        case "mailersend":
            let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(mailersendSecret.utf8)))
            return Request(provider: provider, headers: json.merging(["signature": hex(mac)]) { a, _ in a }, body: body)
        case "resend", "standardwebhooks":
            let id = "msg_" + UUID().uuidString.lowercased()
            let timestamp = String(Int(date.timeIntervalSince1970))
            var base64 = String(resendSecret.dropFirst(6))
            while base64.count % 4 != 0 { base64 += "=" }
            let key = SymmetricKey(data: Data(base64Encoded: base64) ?? Data())
            let mac = HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).".utf8) + body, using: key)
            return Request(
                provider: provider,
                headers: json.merging([
                    "svix-id": id, "svix-timestamp": timestamp, "svix-signature": "v1," + Data(mac).base64EncodedString(),
                ]) {
                    a, _ in a
                },
                body: body)
        case "ses-eventbridge":
            let key = (try? AllProvidersIngressTests.eventBridgeKey()) ?? ""
            return Request(provider: provider, headers: json.merging(["x-api-key": key]) { a, _ in a }, body: body)
        case "ses":
            // Only AWS can sign SNS messages: SES requests go to a source that takes them unsigned.
            return Request(provider: provider, headers: ["content-type": "text/plain; charset=UTF-8"], body: body)
        default:
            return Request(provider: provider, headers: json.merging(["authorization": basic]) { a, _ in a }, body: body)
        }
    }

    /// The source a signed request goes to: SES to one that takes unsigned SNS messages.
    static func path(_ provider: String) -> String {
        provider == "ses" ? "/webhooks/ses/open" : "/webhooks/\(provider)/default"
    }

    /// Every provider configured with the fixture secrets, plus an unsigned SES source (`open`) and
    /// a Standard Webhooks source; replay windows off (fixtures carry old timestamps).
    static func registry() throws -> SourceRegistry {
        var environment = try AllProvidersIngressTests.environment()
        environment["POSTWIRE_SECRET_STANDARDWEBHOOKS_DEFAULT"] = resendSecret
        return try SourceRegistry(
            sources: try AllProvidersIngressTests.sources(autoConfirm: false) + [
                SourceSettings(provider: "ses", name: "open", allowUnauthenticated: true),
                SourceSettings(provider: "standardwebhooks", name: "default", replayWindowSeconds: 0),
            ],
            secrets: Secrets(environment: environment), certificates: try AllProvidersIngressTests.pinnedCertificates())
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
