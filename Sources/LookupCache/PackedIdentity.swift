import IdentityMap

/// One cached answer without its key, in 40 bytes: everything of a ``Resolution`` except the
/// pool and sub (the key already holds them), the username and email (in the shard's text
/// arena, at `textOffset`) and a non-nil `unlinkedAt` (rare: a side table of the shard).
///
/// Times are kept as the `Double` that `Date` itself stores, so a decoded answer is equal bit
/// for bit to the one PostgreSQL's path decodes.
struct PackedIdentity: Sendable, Equatable {
    var user: UUIDBits
    /// `Date.timeIntervalSinceReferenceDate` of `linked_at`.
    var linkedAt: Double
    var textOffset: UInt32
    var usernameLength: UInt16
    /// ``noEmail`` when the identity has no email (an empty one has length 0).
    var emailLength: UInt16
    var provider: UInt16
    /// 0 for none, else a code of ``InternTable``.
    var campaign: UInt16
    var flags: EntryFlags

    static let noEmail = UInt16.max

    var textLength: Int {
        Int(usernameLength) + (emailLength == Self.noEmail ? 0 : Int(emailLength))
    }
}

/// The small enumerations of an answer in one 16-bit word:
/// bits 0–1 user status, 2–3 identity status, 4 email verified, 5–8 link path (0: none),
/// 9 has an `unlinked_at`.
struct EntryFlags: Sendable, Equatable {
    var rawValue: UInt16

    static let userStatuses = UserStatus.allCases
    static let identityStatuses = IdentityStatus.allCases
    static let linkPaths = LinkPath.allCases

    init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// Nil when a value does not fit its bits (an enumeration grew past them): such an answer is
    /// simply not cached.
    init?(userStatus: UserStatus, identityStatus: IdentityStatus, emailVerified: Bool, via: LinkPath?, hasUnlinkedAt: Bool) {
        guard let user = Self.userStatuses.firstIndex(of: userStatus), user < 4,
            let identity = Self.identityStatuses.firstIndex(of: identityStatus), identity < 4
        else { return nil }
        var path = 0
        if let via {
            guard let index = Self.linkPaths.firstIndex(of: via), index < 15 else { return nil }
            path = index + 1
        }
        rawValue =
            UInt16(user) | UInt16(identity) << 2 | (emailVerified ? 1 << 4 : 0) | UInt16(path) << 5 | (hasUnlinkedAt ? 1 << 9 : 0)
    }

    var userStatus: UserStatus { Self.userStatuses[Int(rawValue & 0b11)] }
    var identityStatus: IdentityStatus { Self.identityStatuses[Int(rawValue >> 2 & 0b11)] }
    var emailVerified: Bool { rawValue & 1 << 4 != 0 }
    var via: LinkPath? {
        let path = Int(rawValue >> 5 & 0b1111)
        return path == 0 ? nil : Self.linkPaths[path - 1]
    }
    var hasUnlinkedAt: Bool { rawValue & 1 << 9 != 0 }
}
