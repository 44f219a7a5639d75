/// Which campaign an event counts under (docs/ANALYTICS.md): the first step that yields a
/// non-empty value wins.
///
/// Steps, as written in `analytics.campaignRule`:
/// - `esp`: the campaign the ESP itself reported (SendGrid `campaign`/`marketing_campaign_name`,
///   Mailjet `customcampaign`, …), as the provider's normalizer found it;
/// - `metadata:<key>`: the value of a custom metadata key (Mailgun user-variables, SendGrid
///   unique args, Postmark metadata, SES tags, …);
/// - `tag:<prefix>`: the first tag that starts with the prefix, without it (`tag:campaign:` turns the
///   tag `campaign:spring` into `spring`);
/// - `tag`: the first tag.
public struct CampaignRule: Sendable, Equatable {
    public enum Step: Sendable, Equatable {
        case esp
        case metadata(String)
        case tagPrefix(String)
        case firstTag
    }

    public struct InvalidStep: Error, Equatable, CustomStringConvertible {
        public var step: String
        public var description: String {
            "unknown campaign rule step \"\(step)\" (use esp, metadata:<key>, tag:<prefix> or tag)"
        }
    }

    public static let defaultSteps = ["esp", "metadata:campaign", "metadata:campaign_id", "tag:campaign:"]

    public let steps: [Step]

    /// The default rule, `defaultSteps`.
    public static let standard = CampaignRule(steps: [.esp, .metadata("campaign"), .metadata("campaign_id"), .tagPrefix("campaign:")])

    init(steps: [Step]) { self.steps = steps }

    public init(_ specification: [String]) throws(InvalidStep) {
        var steps: [Step] = []
        for text in specification {
            if text == "esp" {
                steps.append(.esp)
            } else if text == "tag" {
                steps.append(.firstTag)
            } else if text.hasPrefix("metadata:"), text.count > "metadata:".count {
                steps.append(.metadata(String(text.dropFirst("metadata:".count))))
            } else if text.hasPrefix("tag:"), text.count > "tag:".count {
                steps.append(.tagPrefix(String(text.dropFirst("tag:".count))))
            } else {
                throw InvalidStep(step: text)
            }
        }
        self.steps = steps
    }

    /// The campaign of `event` under this rule, or nil.
    public func campaign(for event: EmailEvent) -> String? {
        for step in steps {
            let value: String?
            switch step {
            case .esp: value = event.campaign
            case .metadata(let key): value = event.metadata[key]
            case .tagPrefix(let prefix): value = event.tags.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            case .firstTag: value = event.tags.first
            }
            if let value, !value.isEmpty { return value }
        }
        return nil
    }
}
