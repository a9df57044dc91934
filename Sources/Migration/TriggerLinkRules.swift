public import Foundation
public import IdentityMap

/// Which person a target-pool sub belongs to, decided from the evidence the trigger found, in
/// the order DESIGN §4 gives: the stable-ID attribute, the pending link a Migrate-user trigger
/// left, the same federated account, then the campaign's username/email rules; otherwise a new
/// person. Pure, so every rule and its precedence is tested without a database.
public enum TriggerLinkRules {
    /// What the trigger found for one sub. A match is nil when nothing matched or when the
    /// matches disagreed (two people): an ambiguous match links nobody.
    public struct Evidence: Sendable, Equatable {
        /// The sub is already linked (a retried or duplicated event).
        public var linkedTo: UUID?
        /// The active user the target's stable-ID attribute names.
        public var attribute: UUID?
        public var pending: (user: UUID, via: LinkPath)?
        public var federated: UUID?
        /// A source identity with the target's username.
        public var username: UUID?
        /// A source identity whose username is the target's email.
        public var emailAsUsername: UUID?
        /// A source identity with the target's email, both verified.
        public var verifiedEmail: UUID?
        /// A post-confirmation event (sign-up, forgot-password confirmation).
        public var confirmation: Bool
        /// A brand-new sign-up (`PostConfirmation_ConfirmSignUp`): whoever signs up may pick any
        /// username, so a username match (or a pending link, which no migrated user ever reaches
        /// this way) proves nothing about who they are.
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

    public enum Decision: Sendable, Equatable {
        /// Nothing to do: the sub is linked already.
        case alreadyLinked(UUID)
        case link(UUID, via: LinkPath)
        case createUser(via: LinkPath)
        /// Unlinked on purpose: nothing is linked, and tokens carry no stable ID.
        case leaveUnlinked
    }

    public static func decide(_ evidence: Evidence, linkBy: [Campaign.LinkRule]) -> Decision {
        if let user = evidence.linkedTo { return .alreadyLinked(user) }
        if evidence.unlinked { return .leaveUnlinked }
        let pending = evidence.signUp ? nil : evidence.pending
        let username = evidence.signUp ? nil : evidence.username
        let emailAsUsername = evidence.signUp ? nil : evidence.emailAsUsername
        // The stable-ID attribute is writable by app clients unless the pool forbids it, so on
        // its own it proves nothing (anyone could sign up naming someone else's ID). It decides
        // only when independent evidence names the same person.
        if let user = evidence.attribute {
            if let pending, pending.user == user { return .link(user, via: pending.via) }
            let corroborated = [evidence.federated, username, emailAsUsername, evidence.verifiedEmail].contains(user)
            if corroborated { return .link(user, via: .invite) }
        }
        if let pending { return .link(pending.user, via: pending.via) }
        if let user = evidence.federated { return .link(user, via: .social) }
        if linkBy.contains(.username), let user = username { return .link(user, via: .import) }
        if linkBy.contains(.email), let user = emailAsUsername { return .link(user, via: .import) }
        if linkBy.contains(.verifiedEmail), let user = evidence.verifiedEmail {
            return .link(user, via: evidence.confirmation ? .postConfirmation : .import)
        }
        return .createUser(via: evidence.signUp ? .postConfirmation : .manual)
    }

    /// One person, or nil when the candidates name none or several (ambiguous: link nobody).
    public static func single(_ candidates: [UUID]) -> UUID? {
        let distinct = Set(candidates)
        return distinct.count == 1 ? distinct.first : nil
    }
}
