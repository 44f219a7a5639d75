import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

public enum SNSSubscription {
    /// Confirms a subscription with a GET of its SubscribeURL, which the provider has already
    /// checked points at `sns.<region>.amazonaws.com`.
    @Sendable public static func confirm(_ url: String) async throws {
        guard let url = URL(string: url) else { throw URLError(.badURL) }
        var request = URLRequest(url: url)
        request.timeoutInterval = 10
        let (_, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw URLError(.badServerResponse) }
    }
}
