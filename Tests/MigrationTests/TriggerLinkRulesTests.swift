import Foundation
import IdentityMap
import Migration
import Testing

/// Which person a new target sub belongs to: every rule, its precedence and its refusals.
@Suite("Trigger link rules")
struct TriggerLinkRulesTests {
    let a = UUID()
    let b = UUID()
    let all: [Campaign.LinkRule] = [.username, .email, .verifiedEmail]

    @Test("an already linked sub is answered as is, whatever else matches")
    func alreadyLinked() {
        let evidence = TriggerLinkRules.Evidence(linkedTo: a, attribute: b, pending: (b, .lazy), username: b)
        #expect(TriggerLinkRules.decide(evidence, linkBy: all) == .alreadyLinked(a))
    }

    @Test("precedence: corroborated attribute, then pending link, then federated, then username, email-as-username, verified email")
    func precedence() {
        #expect(
            TriggerLinkRules.decide(.init(attribute: a, pending: (b, .lazy), federated: b, username: a), linkBy: all)
                == .link(a, via: .invite))
        #expect(
            TriggerLinkRules.decide(.init(pending: (a, .forgotPassword), federated: b, username: b), linkBy: all)
                == .link(a, via: .forgotPassword))
        #expect(TriggerLinkRules.decide(.init(federated: a, username: b), linkBy: all) == .link(a, via: .social))
        #expect(TriggerLinkRules.decide(.init(username: a, emailAsUsername: b, verifiedEmail: b), linkBy: all) == .link(a, via: .import))
        #expect(TriggerLinkRules.decide(.init(emailAsUsername: a, verifiedEmail: b), linkBy: all) == .link(a, via: .import))
        #expect(TriggerLinkRules.decide(.init(verifiedEmail: a), linkBy: all) == .link(a, via: .import))
        #expect(TriggerLinkRules.decide(.init(verifiedEmail: a, confirmation: true), linkBy: all) == .link(a, via: .postConfirmation))
    }

    @Test("the attribute and the pending link agreeing keep the pending link's path")
    func attributeAndPending() {
        #expect(TriggerLinkRules.decide(.init(attribute: a, pending: (a, .lazy)), linkBy: all) == .link(a, via: .lazy))
    }

    @Test("username and email rules apply only when the campaign allows them; otherwise a new person")
    func campaignRules() {
        #expect(TriggerLinkRules.decide(.init(username: a), linkBy: [.verifiedEmail]) == .createUser(via: .manual))
        #expect(TriggerLinkRules.decide(.init(emailAsUsername: a), linkBy: [.username]) == .createUser(via: .manual))
        #expect(TriggerLinkRules.decide(.init(verifiedEmail: a), linkBy: [.username, .email]) == .createUser(via: .manual))
        #expect(TriggerLinkRules.decide(.init(), linkBy: all) == .createUser(via: .manual))
        #expect(TriggerLinkRules.decide(.init(signUp: true), linkBy: all) == .createUser(via: .postConfirmation))
        // Without a campaign (linkBy empty) only strong evidence links.
        #expect(TriggerLinkRules.decide(.init(username: a), linkBy: []) == .createUser(via: .manual))
        #expect(TriggerLinkRules.decide(.init(federated: a), linkBy: []) == .link(a, via: .social))
    }

    @Test("the stable-ID attribute alone proves nothing (app clients can write it): it needs corroboration")
    func attributeNeedsCorroboration() {
        #expect(TriggerLinkRules.decide(.init(attribute: a), linkBy: all) == .createUser(via: .manual))
        #expect(TriggerLinkRules.decide(.init(attribute: a, signUp: true), linkBy: all) == .createUser(via: .postConfirmation))
        // Another person's evidence wins over an attribute that names someone else.
        #expect(TriggerLinkRules.decide(.init(attribute: a, username: b), linkBy: all) == .link(b, via: .import))
        #expect(TriggerLinkRules.decide(.init(attribute: a, verifiedEmail: a), linkBy: all) == .link(a, via: .invite))
    }

    @Test("a sign-up never links by username or a pending link; a verified mailbox or a federated account still links")
    func signUp() {
        #expect(
            TriggerLinkRules.decide(.init(pending: (a, .lazy), username: a, emailAsUsername: a, signUp: true), linkBy: all)
                == .createUser(via: .postConfirmation))
        #expect(
            TriggerLinkRules.decide(.init(verifiedEmail: a, confirmation: true, signUp: true), linkBy: all)
                == .link(a, via: .postConfirmation))
        #expect(TriggerLinkRules.decide(.init(federated: a, signUp: true), linkBy: all) == .link(a, via: .social))
    }

    @Test("a sub unlinked on purpose stays unlinked, whatever matches")
    func unlinkedStays() {
        #expect(TriggerLinkRules.decide(.init(pending: (a, .lazy), username: a, unlinked: true), linkBy: all) == .leaveUnlinked)
    }

    @Test("candidates naming several people are ambiguous: nobody is linked on them")
    func single() {
        #expect(TriggerLinkRules.single([a, a]) == a)
        #expect(TriggerLinkRules.single([a, b]) == nil)
        #expect(TriggerLinkRules.single([]) == nil)
    }

    @Test("campaign validation: sources, names, attributes and clients")
    func campaignValidation() throws {
        let target = PoolID("eu-west-1_Target")!
        let source = PoolID("us-east-1_Source")!
        let bad: [NewCampaign] = [
            NewCampaign(target: target, sources: []),
            NewCampaign(target: target, sources: [source, source]),
            NewCampaign(target: target, sources: [target]),
            NewCampaign(name: "bad/name", target: target, sources: [source]),
            NewCampaign(target: target, sources: [source], stableIDAttribute: "stable_id"),
            NewCampaign(target: target, sources: [source], sourceClientSecret: "s"),
            NewCampaign(target: target, sources: [source], sourceClientIDs: [PoolID("us-west-2_Other")!: "abc"]),
            NewCampaign(target: target, sources: [source], linkBy: []),
        ]
        for new in bad {
            #expect(throws: MigrationError.self) { try new.validated() }
        }
        let good = NewCampaign(
            name: "spring move", target: target, sources: [source], sourceClientID: "abc123", sourceClientSecret: "s",
            stableIDAttribute: "custom:stable_id", linkBy: [.username, .verifiedEmail]
        )
        _ = try good.validated()
    }
}
