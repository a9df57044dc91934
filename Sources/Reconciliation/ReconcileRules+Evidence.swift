public import Foundation
public import IdentityMap

/// The facts the run's SQL gathers for each kind of subject, as the rules take them.
extension ReconcileRules {
    /// A Cognito user as the snapshot recorded it.
    public struct SnapshotUser: Sendable, Equatable {
        public var pool: PoolID
        public var sub: String
        public var username: String
        public var email: String?
        public var emailVerified: Bool
        public var enabled: Bool
        /// Cognito's `UserStatus` (`CONFIRMED`, `EXTERNAL_PROVIDER`, …), reported as evidence.
        public var userStatus: String
        /// `Cognito` or the federated provider (`Google`, …).
        public var provider: String
        public var providerUserID: String?
        /// The value of the scope's stable-ID attribute (`custom:stable_id`), if the user has one.
        public var stableIDAttribute: String?

        public init(
            pool: PoolID, sub: String, username: String, email: String? = nil, emailVerified: Bool = false, enabled: Bool = true,
            userStatus: String = "CONFIRMED", provider: String = NewIdentity.defaultProvider, providerUserID: String? = nil,
            stableIDAttribute: String? = nil
        ) {
            self.pool = pool
            self.sub = sub
            self.username = username
            self.email = email
            self.emailVerified = emailVerified
            self.enabled = enabled
            self.userStatus = userStatus
            self.provider = provider
            self.providerUserID = providerUserID
            self.stableIDAttribute = stableIDAttribute
        }
    }

    /// The map's identity for the same `(pool, sub)`, with its person (merges followed).
    public struct MappedIdentity: Sendable, Equatable {
        public var person: UUID
        public var personStatus: UserStatus
        public var status: IdentityStatus
        public var email: String?
        public var emailVerified: Bool
        /// The identity was linked or updated at or after its pool's snapshot started: the pool's
        /// record may predate the change, so the two cannot be compared.
        public var changedSinceSnapshot: Bool

        public init(
            person: UUID, personStatus: UserStatus = .active, status: IdentityStatus = .active, email: String? = nil,
            emailVerified: Bool = false, changedSinceSnapshot: Bool = false
        ) {
            self.person = person
            self.personStatus = personStatus
            self.status = status
            self.email = email
            self.emailVerified = emailVerified
            self.changedSinceSnapshot = changedSinceSnapshot
        }
    }

    /// The person the stable-ID attribute names (its survivor, when that ID was merged).
    public struct AttributeTarget: Sendable, Equatable {
        public var person: UUID
        public var status: UserStatus
        /// Independent evidence names the same person: one of their identities in another pool
        /// (a campaign's source pools) with the same username, the same verified email or the same
        /// federated account. App clients can write the attribute, so on its own it proves nothing
        /// (the same stance as ``TriggerLinkRules``).
        public var corroborated: Bool

        public init(person: UUID, status: UserStatus = .active, corroborated: Bool = false) {
            self.person = person
            self.status = status
            self.corroborated = corroborated
        }
    }

    /// A live map identity of the same pool and username under another sub that the pool no
    /// longer has: the user was deleted and created again.
    public struct PreviousIdentity: Sendable, Equatable {
        public var sub: String
        public var person: UUID

        public init(sub: String, person: UUID) {
            self.sub = sub
            self.person = person
        }
    }

    /// Everything the run knows about one Cognito user of the snapshot.
    public struct CognitoUserEvidence: Sendable, Equatable {
        public var user: SnapshotUser
        public var role: PoolRole
        public var mapped: MappedIdentity?
        /// Source users with a person: whether that person has an active identity in the target.
        public var migrated: Bool?
        public var attributeTarget: AttributeTarget?
        public var previousIdentity: PreviousIdentity?
        /// Source users: a member of the campaign's subset (``CampaignSubset``, judged from the
        /// snapshot's attributes and the member file); true for a campaign without one.
        public var inSubset: Bool
        /// The target pools of other campaigns in which the person has an active identity.
        public var elsewhere: [PoolID]

        public init(
            user: SnapshotUser, role: PoolRole, mapped: MappedIdentity? = nil, migrated: Bool? = nil,
            attributeTarget: AttributeTarget? = nil, previousIdentity: PreviousIdentity? = nil, inSubset: Bool = true,
            elsewhere: [PoolID] = []
        ) {
            self.user = user
            self.role = role
            self.mapped = mapped
            self.migrated = migrated
            self.attributeTarget = attributeTarget
            self.previousIdentity = previousIdentity
            self.inSubset = inSubset
            self.elsewhere = elsewhere
        }
    }

    /// A live identity of the map (active or disabled) whose sub the pool's snapshot lacks.
    public struct MissingIdentityEvidence: Sendable, Equatable {
        public var pool: PoolID
        public var sub: String
        public var person: UUID
        public var status: IdentityStatus
        /// The sub the pool now has under the same username (deleted and created again).
        public var replacedBySub: String?
        /// The identity was linked or updated at or after its pool's snapshot started. A user
        /// created while ListUsers was paging (and linked by a trigger) is missing from the
        /// snapshot without being gone, so its absence proves nothing.
        public var changedSinceSnapshot: Bool

        public init(
            pool: PoolID, sub: String, person: UUID, status: IdentityStatus, replacedBySub: String? = nil,
            changedSinceSnapshot: Bool = false
        ) {
            self.pool = pool
            self.sub = sub
            self.person = person
            self.status = status
            self.replacedBySub = replacedBySub
            self.changedSinceSnapshot = changedSinceSnapshot
        }
    }

    /// An active person with an identity in the scope, and how many live identities it has left
    /// anywhere (active or disabled: a disabled Cognito user is still the person's account).
    public struct PersonEvidence: Sendable, Equatable {
        public var person: UUID
        public var liveIdentities: Int

        public init(person: UUID, liveIdentities: Int) {
            self.person = person
            self.liveIdentities = liveIdentities
        }
    }

    /// One person's active identities in one pool.
    public struct PoolIdentitiesEvidence: Sendable, Equatable {
        public var person: UUID
        public var pool: PoolID
        public var activeSubs: [String]

        public init(person: UUID, pool: PoolID, activeSubs: [String]) {
            self.person = person
            self.pool = pool
            self.activeSubs = activeSubs
        }
    }

    /// Snapshot users across the scope's pools sharing one key that names a single human.
    public struct SharedAccountEvidence: Sendable, Equatable {
        public enum Key: Sendable, Equatable {
            /// A verified email, by the hex SHA-256 of its normalized form (findings outlive runs
            /// and must not keep addresses).
            case verifiedEmail(digest: String)
            /// A federated account: the provider and the person's id there.
            case federated(provider: String, userID: String)
        }

        public struct Member: Sendable, Equatable {
            public var pool: PoolID
            public var sub: String
            /// The person of the member's live (active or disabled) identity; nil otherwise.
            public var person: UUID?
            /// The status of the member's identity in the map; nil when the map lacks it.
            public var identityStatus: IdentityStatus?

            public init(pool: PoolID, sub: String, person: UUID?, identityStatus: IdentityStatus? = nil) {
                self.pool = pool
                self.sub = sub
                self.person = person
                self.identityStatus = identityStatus ?? (person == nil ? nil : .active)
            }

            /// Who the member stands for when owners are counted: its person, or — for a user the
            /// map lacks — the Cognito user itself. A member whose identity was unlinked or marked
            /// deleted stands for no one: the map deliberately does not resolve it, so it cannot
            /// make the account look shared.
            public var owner: String? {
                switch identityStatus {
                case .unlinked?, .deleted?: return nil
                case .active?, .disabled?, nil:
                    if let person { return person.uuidString }
                    return ReconcileRules.subject(pool: pool, sub: sub)
                }
            }

            /// Unlinked or deleted in the map.
            var isRetired: Bool { identityStatus == .unlinked || identityStatus == .deleted }
        }

        public var key: Key
        public var members: [Member]

        public init(key: Key, members: [Member]) {
            self.key = key
            self.members = members
        }
    }
}
