/// Why a provider refused a request. The ingress maps these to HTTP statuses at its edge
/// (docs/DESIGN.md guarantee 5); the code doubles as a bounded metric label.
public struct WebhookError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// No signature or credentials where the source requires them.
        case missingCredentials = "missing_credentials"
        /// A signature or credential that does not verify with any configured secret.
        case badSignature = "bad_signature"
        /// A signed timestamp outside the source's replay window.
        case staleTimestamp = "stale_timestamp"
        /// A nonce (Mailgun token, webhook id) that was already accepted.
        case replayed
        /// The body could not be read far enough to authenticate it: refused, never stored.
        case unreadable
        /// Authentic, but the events in it cannot be parsed: kept in quarantine.
        case malformed
        /// Something the check depends on could not be had (an SNS certificate): retry later.
        case unavailable
    }

    public var code: Code
    /// A short explanation for the client and the log. Never contains secrets.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// True for the errors that mean "we do not believe this request came from the ESP".
    public var isAuthenticationFailure: Bool {
        switch code {
        case .missingCredentials, .badSignature, .staleTimestamp, .replayed, .unreadable: true
        case .malformed, .unavailable: false
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
