import Foundation
import IdentityMap
import Testing

/// The link, unlink and merge rules on their own: every decision and refusal, no database.
@Suite("Link rules", .timeLimit(.minutes(2)))
struct LinkRulesTests {
    let pool = PoolID("us-east-1_Rules")!
    let alice = UUID()
    let bob = UUID()

    @Test("a sub the map has never seen is inserted")
    func newSub() {
        #expect(LinkRules.link(existing: nil, pool: pool, sub: "s", to: alice) == .insert)
    }

    @Test("linking again to the same user changes nothing, whatever its active status")
    func sameOwner() {
        for status in [IdentityStatus.active, .disabled, .deleted] {
            let existing = LinkRules.ExistingIdentity(owner: alice, status: status)
            #expect(LinkRules.link(existing: existing, pool: pool, sub: "s", to: alice) == .unchanged)
        }
    }

    @Test("a sub held by another user is refused as already linked, naming pool and sub")
    func otherOwner() {
        for status in [IdentityStatus.active, .disabled, .deleted] {
            let existing = LinkRules.ExistingIdentity(owner: bob, status: status)
            #expect(
                LinkRules.link(existing: existing, pool: pool, sub: "s", to: alice)
                    == .refuse(.identityAlreadyLinked(pool: pool.rawValue, sub: "s"))
            )
        }
    }

    @Test("an unlinked sub is relinked, to its old owner or to anyone else, remembering the previous owner")
    func relink() {
        let unlinked = LinkRules.ExistingIdentity(owner: bob, status: .unlinked)
        #expect(LinkRules.link(existing: unlinked, pool: pool, sub: "s", to: alice) == .relink(previousOwner: bob))
        #expect(LinkRules.link(existing: unlinked, pool: pool, sub: "s", to: bob) == .relink(previousOwner: bob))
    }

    @Test("unlink: an identity the user does not hold is not found; unlinked twice is a no-op")
    func unlink() {
        #expect(LinkRules.unlink(existing: nil, pool: pool, sub: "s") == .refuse(.identityNotFound(pool: pool.rawValue, sub: "s")))
        #expect(LinkRules.unlink(existing: .unlinked, pool: pool, sub: "s") == .unchanged)
        for status in [IdentityStatus.active, .disabled, .deleted] {
            #expect(LinkRules.unlink(existing: status, pool: pool, sub: "s") == .unlink(previousStatus: status))
        }
    }

    @Test("merge: two active users merge; into self, missing or inactive users are refused")
    func merge() {
        let active = LinkRules.UserState(status: .active)
        #expect(LinkRules.merge(from: alice, fromState: active, into: bob, survivorState: active) == .merge)
        #expect(LinkRules.merge(from: alice, fromState: active, into: alice, survivorState: active) == .refuse(.cannotMergeIntoSelf))
        #expect(LinkRules.merge(from: alice, fromState: active, into: bob, survivorState: nil) == .refuse(.userNotFound(bob)))
        #expect(LinkRules.merge(from: alice, fromState: nil, into: bob, survivorState: active) == .refuse(.userNotFound(alice)))
        let deleted = LinkRules.UserState(status: .deleted)
        #expect(
            LinkRules.merge(from: alice, fromState: active, into: bob, survivorState: deleted) == .refuse(.userNotActive(bob, .deleted)))
        #expect(
            LinkRules.merge(from: alice, fromState: deleted, into: bob, survivorState: active) == .refuse(.userNotActive(alice, .deleted)))
    }

    @Test("merge: a retried merge is a no-op; a user merged elsewhere cannot be merged again")
    func mergeRetry() {
        let carol = UUID()
        let active = LinkRules.UserState(status: .active)
        let mergedIntoBob = LinkRules.UserState(status: .merged, mergedInto: bob)
        #expect(LinkRules.merge(from: alice, fromState: mergedIntoBob, into: bob, survivorState: active) == .unchanged)
        #expect(
            LinkRules.merge(from: alice, fromState: mergedIntoBob, into: carol, survivorState: active)
                == .refuse(.userNotActive(alice, .merged))
        )
        #expect(
            LinkRules.merge(from: carol, fromState: active, into: alice, survivorState: mergedIntoBob)
                == .refuse(.userNotActive(alice, .merged))
        )
    }

    @Test("a new user's identities must name each pool and sub once")
    func distinct() throws {
        let s = "6f1c2a3b-0000-4000-8000-000000000001"
        let t = "6f1c2a3b-0000-4000-8000-000000000002"
        let a = try NewIdentity(pool: pool, sub: s, username: "a")
        let b = try NewIdentity(pool: pool, sub: t, username: "b")
        let other = try NewIdentity(pool: PoolID("eu-west-1_Other")!, sub: s, username: "a")
        try LinkRules.checkDistinct([a, b, other])
        #expect(throws: IdentityMapError.invalidInput(field: "identities", reason: "lists the same pool and sub twice")) {
            try LinkRules.checkDistinct([a, b, a])
        }
    }

    @Test("writes only go to active users")
    func requireActive() throws {
        try LinkRules.requireActive(alice, status: .active)
        #expect(throws: IdentityMapError.userNotActive(alice, .merged)) { try LinkRules.requireActive(alice, status: .merged) }
    }
}
