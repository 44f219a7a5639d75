import PostwireConfig
import Providers
import Testing

@testable import IngressApp

/// A source whose key can never verify a request is refused at startup, naming the variable and
/// the secret's position but never its value.
@Suite struct SourceRegistryTests {
    static func registry(_ secret: String) throws(ConfigurationError) -> SourceRegistry {
        try SourceRegistry(
            sources: [SourceSettings(provider: "standardwebhooks", name: "acme")],
            secrets: Secrets(environment: ["POSTWIRE_SECRET_STANDARDWEBHOOKS_ACME": secret]))
    }

    @Test func aPublicKeyAndASecretTogetherAreAccepted() throws {
        let registry = try Self.registry("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=")
        #expect(registry.entry(provider: "standardwebhooks", source: "acme")?.credentials.secrets.count == 2)
    }

    @Test func aPrivateKeyOrAShortPublicKeyIsRefusedWithoutBeingPrinted() {
        let privateKey = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
        for (secrets, position) in [(privateKey, 1), ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,whpk_AQEB", 2)] {
            do {
                _ = try Self.registry(secrets)
                Issue.record("\(position): accepted")
            } catch {
                #expect(error.message.contains("secret \(position) of POSTWIRE_SECRET_STANDARDWEBHOOKS_ACME"), "\(error.message)")
                #expect(!error.message.contains("6Xb/") && !error.message.contains("AQEB"))
            }
        }
    }
}
