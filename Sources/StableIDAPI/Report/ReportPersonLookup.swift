import AuditTrail
import CampaignReport
import Foundation
import IdentityMap
import UserMigration

/// The report page's person lookup: a stable ID, a sub or an email address → each person it names,
/// with their identities and history. A UUID is tried both ways — as a stable ID, and as a sub in
/// the campaign's pools (subs are UUIDs too); an email finds every person with an identity of that
/// address. Reads only; the answer is rendered on the page, never logged.
struct ReportPersonLookup: Sendable {
    let identityMap: IdentityMapStore
    let events: EventQuery

    /// People shown for one lookup (an email may be several people's).
    static let maxPeople = 5
    /// Events shown per person, oldest first; `stableid audit export --user` has the rest.
    static let maxEvents = 200

    func lookup(_ query: String, in campaign: Campaign) async throws -> LookupResult {
        let text = query.trimmingCharacters(in: .whitespacesAndNewlines)
        let found: [User]
        if UUID(uuidString: text) != nil {
            found = try await users(byID: text, in: campaign)
        } else if text.contains("@"), text.utf8.count <= 320, EmailAddress.normalize(text) != nil {
            found = try await identityMap.users(email: text)
        } else {
            return LookupResult(.invalid("Give a stable ID or a sub (each a UUID), or an email address."))
        }
        var seen: Set<UUID> = []
        var people: [PersonHistory] = []
        for user in found where people.count < Self.maxPeople {
            guard seen.insert(user.id).inserted else { continue }
            guard let history = try await events.history(of: user.id, limit: Self.maxEvents + 1) else { continue }
            let shown = Array(history.prefix(Self.maxEvents))
            people.append(PersonHistory(user: user, events: shown, hasMore: history.count > Self.maxEvents))
        }
        return LookupResult(people.isEmpty ? .notFound : .found(people))
    }

    /// The user with this ID (merges followed), then whoever holds it as a sub in one of the
    /// campaign's pools.
    func users(byID text: String, in campaign: Campaign) async throws -> [User] {
        var users: [User] = []
        if let id = UUID(uuidString: text), let user = try await identityMap.user(id) { users.append(user) }
        guard let sub = CognitoSub.canonical(text) else { return users }
        for pool in [campaign.target] + campaign.sources.map(\.pool) {
            guard let resolution = try await identityMap.resolve(.pool(pool, sub: sub)) else { continue }
            if let user = try await identityMap.user(resolution.userID) { users.append(user) }
        }
        return users
    }
}
