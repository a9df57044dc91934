import Foundation
import IdentityMap
import Testing
import UserMigration

/// Which person a new target sub belongs to: every rule, its precedence, how far each piece of
/// evidence is trusted in each kind of pool, and its refusals (docs/SECURITY.md).
@Suite("Trigger link rules", .timeLimit(.minutes(2)))
struct TriggerLinkRulesTests {
    let a = UUID()
    let b = UUID()
    let all: [Campaign.LinkRule] = [.username, .email, .verifiedEmail]
    /// Cognito's default pool: anyone signs up and writes every attribute.
    let open = TriggerLinkRules.Trust.unsafe
    /// No self sign-up, the attribute writable by no app client.
    let closed = TriggerLinkRules.Trust(selfSignUp: false, attributeWritable: false)
    /// No self sign-up, but app clients can write the attribute.
    let adminOnly = TriggerLinkRules.Trust(selfSignUp: false, attributeWritable: true)
    /// Self sign-up, but the attribute is read-only for every app client.
    let readOnlyAttribute = TriggerLinkRules.Trust(selfSignUp: true, attributeWritable: false)

    func decide(
        _ evidence: TriggerLinkRules.Evidence, _ linkBy: [Campaign.LinkRule]? = nil, _ trust: TriggerLinkRules.Trust? = nil
    )
        -> TriggerLinkRules.Decision
    {
        TriggerLinkRules.decide(evidence, linkBy: linkBy ?? all, trust: trust ?? open)
    }

    @Test("an already linked sub is answered as is, whatever else matches")
    func alreadyLinked() {
        #expect(decide(.init(linkedTo: a, attribute: b, pending: (b, .lazy), username: b)) == .alreadyLinked(a))
    }

    @Test("proof of control, strongest first: pending link, federated account, read-only attribute, verified email, email as username")
    func proofPrecedence() {
        #expect(decide(.init(attribute: b, pending: (a, .forgotPassword), federated: b, username: b)) == .link(a, via: .forgotPassword))
        #expect(decide(.init(attribute: b, federated: a, username: b, verifiedEmail: b)) == .link(a, via: .social))
        #expect(decide(.init(attribute: a, username: b, verifiedEmail: b), nil, readOnlyAttribute) == .link(a, via: .invite))
        #expect(decide(.init(emailAsUsername: b, verifiedEmail: a)) == .link(a, via: .import))
        #expect(decide(.init(verifiedEmail: a, confirmation: true)) == .link(a, via: .postConfirmation))
        #expect(decide(.init(emailAsUsername: a)) == .link(a, via: .import))
    }

    @Test("the attribute and the pending link agreeing keep the pending link's path")
    func attributeAndPending() {
        #expect(decide(.init(attribute: a, pending: (a, .lazy))) == .link(a, via: .lazy))
    }

    @Test("where anyone can sign up, a username alone is a claim: it links nobody")
    func usernameAloneIsAClaim() {
        #expect(decide(.init(username: a)) == .createUser(via: .manual))
        #expect(decide(.init(username: a), [.username]) == .createUser(via: .manual))
        #expect(decide(.init(username: a, confirmation: true)) == .createUser(via: .manual))
    }

    @Test("a username backed by the same email verified on both sides links, even where the campaign does not link by verified email")
    func usernameBackedByVerifiedEmail() {
        #expect(decide(.init(username: a, verifiedEmail: a), [.username]) == .link(a, via: .import))
        #expect(decide(.init(username: a, emailAsUsername: a), [.username]) == .link(a, via: .import))
        // A proof naming someone else backs nothing.
        #expect(decide(.init(username: a, verifiedEmail: b), [.username]) == .createUser(via: .manual))
    }

    @Test("a client-writable attribute is a claim: it links only with proof naming the same person")
    func writableAttributeIsAClaim() {
        #expect(decide(.init(attribute: a)) == .createUser(via: .manual))
        #expect(decide(.init(attribute: a, username: a)) == .createUser(via: .manual))
        #expect(decide(.init(attribute: a, signUp: true)) == .createUser(via: .postConfirmation))
        #expect(decide(.init(attribute: a, verifiedEmail: a), [.username]) == .link(a, via: .invite))
        // Proof naming another person wins over the claim.
        #expect(decide(.init(attribute: a, verifiedEmail: b)) == .link(b, via: .import))
        #expect(decide(.init(attribute: a, federated: b)) == .link(b, via: .social))
    }

    @Test("a pool that admits no self sign-up: usernames come from administrators and link; a writable attribute still does not")
    func adminOnlyPool() {
        #expect(decide(.init(username: a), nil, adminOnly) == .link(a, via: .import))
        // Users rewrite a client-writable attribute with their own access token after creation.
        #expect(decide(.init(attribute: a), nil, adminOnly) == .createUser(via: .manual))
        #expect(decide(.init(attribute: a, username: a), nil, adminOnly) == .link(a, via: .import))
        // Two claims naming different people link nobody.
        #expect(decide(.init(attribute: a, username: b), nil, adminOnly) == .createUser(via: .manual))
        // The campaign's rules still hold.
        #expect(decide(.init(username: a), [.verifiedEmail], adminOnly) == .createUser(via: .manual))
        #expect(decide(.init(attribute: a), nil, closed) == .link(a, via: .invite))
    }

    @Test("a sign-up event means sign-up is possible, whatever was read of the pool: its claims are anyone's")
    func signUpEventOverridesFacts() {
        #expect(decide(.init(username: a, signUp: true), nil, adminOnly) == .createUser(via: .postConfirmation))
        #expect(decide(.init(attribute: a, signUp: true), nil, adminOnly) == .createUser(via: .postConfirmation))
        // A read-only attribute is still proof: no app client could have written it.
        #expect(decide(.init(attribute: a, signUp: true), nil, closed) == .link(a, via: .invite))
    }

    @Test("a sign-up never uses a pending link; a verified mailbox or a federated account still links")
    func signUp() {
        #expect(
            decide(.init(pending: (a, .lazy), username: a, signUp: true)) == .createUser(via: .postConfirmation))
        #expect(decide(.init(verifiedEmail: a, confirmation: true, signUp: true)) == .link(a, via: .postConfirmation))
        #expect(decide(.init(federated: a, signUp: true)) == .link(a, via: .social))
    }

    @Test("rules the campaign does not name do not link on their own; without a campaign only proof links")
    func campaignRules() {
        #expect(decide(.init(emailAsUsername: a), [.username]) == .createUser(via: .manual))
        #expect(decide(.init(verifiedEmail: a), [.username, .email]) == .createUser(via: .manual))
        #expect(decide(.init()) == .createUser(via: .manual))
        #expect(decide(.init(signUp: true)) == .createUser(via: .postConfirmation))
        #expect(decide(.init(username: a), [], adminOnly) == .createUser(via: .manual))
        #expect(decide(.init(federated: a), []) == .link(a, via: .social))
        #expect(decide(.init(pending: (a, .lazy)), []) == .link(a, via: .lazy))
    }

    @Test("a sub unlinked on purpose stays unlinked, whatever matches")
    func unlinkedStays() {
        #expect(decide(.init(pending: (a, .lazy), username: a, unlinked: true), nil, closed) == .leaveUnlinked)
    }

    @Test("the pool facts: unknown is the unsafe case; unset WriteAttributes means writable")
    func trustFromFacts() {
        #expect(TriggerLinkRules.Trust(TargetPoolFacts.unknown) == .unsafe)
        #expect(TriggerLinkRules.Trust(TargetPoolFacts(selfSignUp: false, attributeWriters: [])) == closed)
        #expect(TriggerLinkRules.Trust(TargetPoolFacts(selfSignUp: false, attributeWriters: ["app"])) == adminOnly)
        #expect(TriggerLinkRules.Trust(TargetPoolFacts(selfSignUp: nil, attributeWriters: [])) == readOnlyAttribute)
    }

    @Test("candidates naming several people are ambiguous: nobody is linked on them")
    func single() {
        #expect(TriggerLinkRules.single([a, a]) == a)
        #expect(TriggerLinkRules.single([a, b]) == nil)
        #expect(TriggerLinkRules.single([]) == nil)
    }
}
