/// The ESPs Postwire understands. The raw value is the URL segment (`/webhooks/{provider}`),
/// the `provider` column in PostgreSQL and the metric label.
public enum Provider: String, Sendable, Codable, CaseIterable {
    case sendgrid
    case mailgun
    case postmark
    case ses
    /// Amazon SES through an EventBridge API destination (not SNS).
    case sesEventBridge = "ses-eventbridge"
    case mandrill
    case sparkpost
    case brevo
    case mailjet
    case resend
    case mailersend
    case standardwebhooks
}
