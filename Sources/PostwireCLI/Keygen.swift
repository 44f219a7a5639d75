import ArgumentParser
import Crypto
import Foundation

struct Keygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a SendGrid-style ECDSA P-256 key pair, for local development and send-test.",
        discussion: """
            The public key (base64 DER, as SendGrid shows it) goes in POSTWIRE_SECRET_SENDGRID_<SOURCE>;
            the private key in POSTWIRE_SENDTEST_SENDGRID_PRIVATE_KEY for `postwire send-test sendgrid`.
            A real SendGrid account signs with its own key: configure its public key instead.
            """
    )

    @Argument(help: "Only `sendgrid` needs a key pair.")
    var provider: String = "sendgrid"

    func run() throws {
        guard provider == "sendgrid" else { throw ValidationError("only sendgrid uses a key pair") }
        let key = P256.Signing.PrivateKey()
        print("POSTWIRE_SECRET_SENDGRID_DEFAULT=\(key.publicKey.derRepresentation.base64EncodedString())")
        print("POSTWIRE_SENDTEST_SENDGRID_PRIVATE_KEY=\(key.derRepresentation.base64EncodedString())")
    }
}
