import EmailEvents

/// The shared path of the ESPs that post JSON events and authenticate with HTTP credentials
/// (Postmark, Brevo, Mailjet): content type, credentials, then each event object normalized.
enum CredentialedJSON {
    static func events(
        _ request: WebhookRequest,
        esp: String,
        credentials: SourceCredentials,
        normalize: (JSONObject, [UInt8]) throws(WebhookError) -> EmailEvent
    ) throws(WebhookError) -> [EmailEvent] {
        try MediaType.require("application/json", request, esp: esp)
        try HTTPCredentials.verify(request, credentials: credentials)
        return try EventObjects.parse(request.body).map { item throws(WebhookError) in try normalize(item.object, item.raw) }
    }
}

enum MediaType {
    static func require(_ type: String, _ request: WebhookRequest, esp: String) throws(WebhookError) {
        guard request.mediaType == type else { throw WebhookError(.unsupportedMediaType, "\(esp) webhooks must be \(type)") }
    }
}
