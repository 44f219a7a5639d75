import Foundation
import Testing

@testable import EmailEvents

@Suite struct CampaignRuleTests {
    func event(campaign: String? = nil, metadata: [String: String] = [:], tags: [String] = []) -> EmailEvent {
        var event = EmailEvent(
            provider: .mailgun, source: "default", type: .delivered, espEvent: "delivered", eventKey: "k", occurredAt: Date(),
            receivedAt: Date(), raw: [])
        event.campaign = campaign
        event.metadata = metadata
        event.tags = tags
        return event
    }

    @Test func theDefaultRuleTakesTheFirstStepThatYieldsAValue() throws {
        let rule = try CampaignRule(CampaignRule.defaultSteps)
        #expect(rule == .standard)
        #expect(rule.campaign(for: event(campaign: "esp", metadata: ["campaign": "meta"])) == "esp")
        #expect(rule.campaign(for: event(metadata: ["campaign": "meta", "campaign_id": "id"])) == "meta")
        #expect(rule.campaign(for: event(metadata: ["campaign_id": "id"])) == "id")
        #expect(rule.campaign(for: event(tags: ["newsletter", "campaign:winter"])) == "winter")
        #expect(rule.campaign(for: event(campaign: "", tags: ["newsletter"])) == nil, "an empty value does not count")
    }

    @Test func customRulesAndMistakes() throws {
        let rule = try CampaignRule(["metadata:utm_campaign", "tag"])
        #expect(rule.campaign(for: event(campaign: "esp", tags: ["first", "second"])) == "first")
        #expect(rule.campaign(for: event(metadata: ["utm_campaign": "q4"], tags: ["first"])) == "q4")
        #expect(throws: CampaignRule.InvalidStep(step: "metadata:")) { try CampaignRule(["metadata:"]) }
        #expect(throws: CampaignRule.InvalidStep(step: "header:x")) { try CampaignRule(["esp", "header:x"]) }
    }
}
