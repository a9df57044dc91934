public import Foundation
public import IdentityMap

/// Which person a target-pool sub belongs to, decided from the evidence the trigger found and how
/// far each piece can be trusted (docs/SECURITY.md). Pure, so every rule, its precedence and
/// every attack it refuses are tested without a database.
///
/// Evidence comes in two grades:
/// - **Proof of control**: something only the person could have brought. A pending link left by a
///   password- or reset-code-checked migration of exactly this username; the same federated
///   account; the same email verified on both sides (Cognito sets `email_verified` after a code,
///   or an administrator does; no app client can); the target's verified email being a source
///   username; the stable-ID attribute when no app client of the target can write it.
/// - **Claims**: what anyone chooses at sign-up: the username, a client-writable stable-ID
///   attribute. They link only when proof of control names the same person; a username also
///   when the target pool admits no self sign-up (then an administrator or an import job chose
///   it; users cannot change it, while they can rewrite a writable attribute).
///
/// A sub with no trusted evidence becomes a new person, whatever event brought it; reconciliation
/// reports a duplicate for a person to merge.
public enum TriggerLinkRules {
    /// What the trigger found for one sub. A match is nil when nothing matched or when the
    /// matches disagreed (two people): an ambiguous match links nobody.
    public struct Evidence: Sendable, Equatable {
        /// The sub is already linked (a retried or duplicated event).
        public var linkedTo: UUID?
        /// The active user the target's stable-ID attribute names.
        public var attribute: UUID?
        /// The pending link of a checked migration of this username (or of this verified email,
        /// in pools that sign in by email).
        public var pending: (user: UUID, via: LinkPath)?
        public var federated: UUID?
        /// A source identity with the target's username.
        public var username: UUID?
        /// A source identity whose username is the target's verified email.
        public var emailAsUsername: UUID?
        /// A source identity with the target's email, both verified.
        public var verifiedEmail: UUID?
        /// A post-confirmation event (sign-up, forgot-password confirmation).
        public var confirmation: Bool
        /// A brand-new sign-up (`PostConfirmation_ConfirmSignUp`): the pool admits sign-up,
        /// whatever its settings said, and no migration ends this way (a pending link is not its).
        public var signUp: Bool
        /// The sub is in the map but was unlinked on purpose: it is not linked again automatically.
        public var unlinked: Bool

        public init(
            linkedTo: UUID? = nil, attribute: UUID? = nil, pending: (user: UUID, via: LinkPath)? = nil, federated: UUID? = nil,
            username: UUID? = nil, emailAsUsername: UUID? = nil, verifiedEmail: UUID? = nil, confirmation: Bool = false,
            signUp: Bool = false, unlinked: Bool = false
        ) {
            self.linkedTo = linkedTo
            self.attribute = attribute
            self.pending = pending
            self.federated = federated
            self.username = username
            self.emailAsUsername = emailAsUsername
            self.verifiedEmail = verifiedEmail
            self.confirmation = confirmation
            self.signUp = signUp
            self.unlinked = unlinked
        }

        public static func == (lhs: Evidence, rhs: Evidence) -> Bool {
            lhs.linkedTo == rhs.linkedTo && lhs.attribute == rhs.attribute && lhs.pending?.user == rhs.pending?.user
                && lhs.pending?.via == rhs.pending?.via && lhs.federated == rhs.federated && lhs.username == rhs.username
                && lhs.emailAsUsername == rhs.emailAsUsername && lhs.verifiedEmail == rhs.verifiedEmail
                && lhs.confirmation == rhs.confirmation && lhs.signUp == rhs.signUp && lhs.unlinked == rhs.unlinked
        }
    }

    /// What the target pool lets anyone choose (from ``TargetPoolFacts``; unknown is unsafe).
    public struct Trust: Sendable, Equatable {
        public var selfSignUp: Bool
        public var attributeWritable: Bool

        public init(selfSignUp: Bool, attributeWritable: Bool) {
            self.selfSignUp = selfSignUp
            self.attributeWritable = attributeWritable
        }

        public init(_ facts: TargetPoolFacts) {
            self.init(selfSignUp: facts.admitsSelfSignUp, attributeWritable: facts.attributeIsClientWritable)
        }

        /// Nothing known: anyone signs up and writes every attribute.
        public static let unsafe = Trust(selfSignUp: true, attributeWritable: true)
    }

    public enum Decision: Sendable, Equatable {
        /// Nothing to do: the sub is linked already.
        case alreadyLinked(UUID)
        case link(UUID, via: LinkPath)
        case createUser(via: LinkPath)
        /// Unlinked on purpose: nothing is linked, and tokens carry no stable ID.
        case leaveUnlinked
    }

    public static func decide(_ evidence: Evidence, linkBy: [Campaign.LinkRule], trust: Trust) -> Decision {
        if let user = evidence.linkedTo { return .alreadyLinked(user) }
        if evidence.unlinked { return .leaveUnlinked }
        let newPerson = Decision.createUser(via: evidence.signUp ? .postConfirmation : .manual)
        // A sign-up event means the pool admits sign-up, whatever was read of it.
        let claimsAreAdministrators = !trust.selfSignUp && !evidence.signUp

        // Proof of control, strongest first.
        if !evidence.signUp, let pending = evidence.pending {
            return .link(pending.user, via: pending.via)
        }
        if let user = evidence.federated { return .link(user, via: .social) }
        if let user = evidence.attribute, !trust.attributeWritable { return .link(user, via: .invite) }
        let verifiedEmailVia: LinkPath = evidence.confirmation ? .postConfirmation : .import
        if linkBy.contains(.verifiedEmail), let user = evidence.verifiedEmail { return .link(user, via: verifiedEmailVia) }
        if linkBy.contains(.email), let user = evidence.emailAsUsername { return .link(user, via: .import) }

        // Claims: believed when a proof the campaign does not link on by itself names the same
        // person; a username also when an administrator chose it (a pool without self sign-up).
        // A client-writable attribute never on that ground: users rewrite it with their own
        // access token after an administrator made them. Two claims naming different people
        // link nobody.
        let proofs = [evidence.verifiedEmail, evidence.emailAsUsername].compactMap { $0 }
        let username = linkBy.contains(.username) ? evidence.username : nil
        let claimed = Set([username, evidence.attribute].compactMap { $0 })
        guard claimed.count == 1, let person = claimed.first else { return newPerson }
        if proofs.contains(person) { return .link(person, via: evidence.attribute == person ? .invite : .import) }
        if claimsAreAdministrators, username == person { return .link(person, via: .import) }
        return newPerson
    }

    /// One person, or nil when the candidates name none or several (ambiguous: link nobody).
    public static func single(_ candidates: [UUID]) -> UUID? {
        let distinct = Set(candidates)
        return distinct.count == 1 ? distinct.first : nil
    }
}
