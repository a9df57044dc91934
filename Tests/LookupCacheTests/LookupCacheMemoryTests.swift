import Foundation
import IdentityMap
import TestSupport
import Testing

@testable import LookupCache

@Suite("Lookup cache in memory: serving rules and the two lookup forms", .timeLimit(.minutes(2)))
struct LookupCacheMemoryTests {
    let old = PoolID("us-east-1_Old")!
    let new = PoolID("eu-west-1_New")!

    func filled(_ answers: [Resolution], staleness: Duration = .seconds(5)) -> LookupCache {
        let cache = LookupCache(configuration: .init(shardCount: 4, maxStaleness: staleness))
        cache.beginWarming(expectedEntries: answers.count)
        cache.replacePools([(old, "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Old"), (new, "https://issuer.example/new")])
        cache.apply(answers.map { CacheUpdate(pool: $0.identity.pool, sub: UUIDBits(canonicalText: $0.identity.sub)!, resolution: $0) })
        return cache
    }

    @Test("nothing is answered from memory until the follower has caught up, and nothing after its deadline")
    func servingDeadline() async throws {
        let answer = sampleResolution(pool: old)
        let reference = IdentityReference.pool(old, sub: answer.identity.sub)
        // A bound far longer than the checks take, so they hold however slowly this machine runs.
        let cache = filled([answer], staleness: .seconds(60))
        #expect(cache.state == .warming)
        #expect(cache.cachedResolution(for: reference) == nil)
        #expect(cache.storedResolution(for: reference) == answer)
        cache.markCaughtUp(pollStarted: .now, cursor: ChangeCursor(after: 0))
        #expect(cache.state == .live)
        #expect(cache.cachedResolution(for: reference) == answer)
        // The last complete poll started longer ago than the bound: its deadline has passed.
        cache.markCaughtUp(pollStarted: .now - .seconds(61), cursor: ChangeCursor(after: 0))
        #expect(cache.state == .off, "a follower that stopped polling leaves a cache that answers nothing")
        #expect(cache.cachedResolution(for: reference) == nil)
        cache.markCaughtUp(pollStarted: .now, cursor: ChangeCursor(after: 0))
        cache.switchOff()
        #expect(cache.cachedResolution(for: reference) == nil)

        // And in real time: with nobody switching it off, a short bound runs out on its own.
        let short = filled([answer], staleness: .milliseconds(200))
        short.markCaughtUp(pollStarted: .now, cursor: ChangeCursor(after: 0))
        let expired = try await waitUntil(within: .seconds(30)) { short.state == .off }
        #expect(expired, "the serving deadline never passed")
        #expect(short.cachedResolution(for: reference) == nil)
    }

    @Test("a write through this server bypasses memory until a poll that started after it has caught up")
    func readYourWrites() {
        let answer = sampleResolution(pool: old)
        let cache = filled([answer])
        let reference = IdentityReference.pool(old, sub: answer.identity.sub)
        let before = ContinuousClock.now
        cache.markCaughtUp(pollStarted: before, cursor: ChangeCursor(after: 0))
        #expect(cache.cachedResolution(for: reference) == answer)
        cache.noteLocalWrite(at: before + .milliseconds(5))
        #expect(cache.cachedResolution(for: reference) == nil, "the write is younger than the last complete poll")
        cache.markCaughtUp(pollStarted: before + .milliseconds(3), cursor: ChangeCursor(after: 0))
        #expect(cache.cachedResolution(for: reference) == nil, "a poll that started before the write does not count")
        cache.markCaughtUp(pollStarted: before + .milliseconds(6), cursor: ChangeCursor(after: 0))
        #expect(cache.cachedResolution(for: reference) == answer)
        cache.noteLocalWrite(at: before + .milliseconds(1))
        #expect(cache.cachedResolution(for: reference) == answer, "an older note never moves the bar back")
    }

    @Test("by pool or by issuer (trailing slashes as PostgreSQL ignores them); a non-canonical sub is a miss")
    func lookupForms() throws {
        let a = sampleResolution(pool: old)
        let b = sampleResolution(pool: new, sub: a.identity.sub, user: UUID(), username: "bob")
        let cache = filled([a, b])
        cache.markCaughtUp(pollStarted: .now, cursor: ChangeCursor(after: 0))
        #expect(cache.count == 2)
        #expect(cache.cachedResolution(for: .pool(old, sub: a.identity.sub)) == a)
        #expect(cache.cachedResolution(for: .pool(new, sub: a.identity.sub)) == b)
        #expect(cache.cachedResolution(for: .issuer("https://issuer.example/new/", sub: a.identity.sub)) == b)
        #expect(cache.cachedResolution(for: .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Old", sub: a.identity.sub)) == a)
        #expect(cache.cachedResolution(for: .issuer("https://unknown.example", sub: a.identity.sub)) == nil)
        #expect(cache.cachedResolution(for: .pool(old, sub: a.identity.sub.uppercased())) == nil)
        #expect(cache.cachedResolution(for: .pool(PoolID("us-west-2_Other")!, sub: a.identity.sub)) == nil)
    }

    @Test("a re-read that finds nothing removes the identity; a changed issuer moves lookups by iss")
    func updates() throws {
        let a = sampleResolution(pool: old)
        let cache = filled([a])
        cache.markCaughtUp(pollStarted: .now, cursor: ChangeCursor(after: 0))
        var moved = a
        moved.userID = UUID()
        cache.apply([CacheUpdate(pool: old, sub: UUIDBits(canonicalText: a.identity.sub)!, resolution: moved)])
        #expect(cache.cachedResolution(for: .pool(old, sub: a.identity.sub)) == moved)
        cache.replacePools([(old, "https://elsewhere.example/old"), (new, "https://issuer.example/new")])
        #expect(cache.cachedResolution(for: .issuer("https://elsewhere.example/old", sub: a.identity.sub)) == moved)
        #expect(
            cache.cachedResolution(for: .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Old", sub: a.identity.sub)) == nil)
        cache.apply([CacheUpdate(pool: old, sub: UUIDBits(canonicalText: a.identity.sub)!, resolution: nil)])
        #expect(cache.cachedResolution(for: .pool(old, sub: a.identity.sub)) == nil)
        #expect(cache.count == 0)
    }

    @Test("new providers and campaigns are interned for every shard before an entry uses them")
    func interning() throws {
        let answers = (0..<64).map { index in
            sampleResolution(pool: index % 2 == 0 ? old : new, provider: "Provider\(index % 5)", campaign: index % 3 == 0 ? UUID() : nil)
        }
        let cache = filled(answers)
        for answer in answers {
            #expect(cache.storedResolution(for: .pool(answer.identity.pool, sub: answer.identity.sub)) == answer)
        }
    }

    @Test("a batch asks the database once, for the misses only, and answers in order")
    func batch() async throws {
        let known = sampleResolution(pool: old)
        let cache = filled([known])
        cache.markCaughtUp(pollStarted: .now, cursor: ChangeCursor(after: 0))
        let unknown = IdentityReference.pool(old, sub: UUID().uuidString.lowercased())
        let fromDatabase = sampleResolution(pool: new)
        var calls: [[IdentityReference]] = []
        let references: [IdentityReference] = [unknown, .pool(old, sub: known.identity.sub), unknown]
        let answers = try await cache.resolve(batch: references) { asked in
            calls.append(asked)
            return asked.map { _ in fromDatabase }
        }
        #expect(answers == [fromDatabase, known, fromDatabase])
        #expect(calls == [[unknown, unknown]])
        _ = try await cache.resolve(batch: [.pool(old, sub: known.identity.sub)]) { asked in
            calls.append(asked)
            return []
        }
        #expect(calls.count == 1, "all found in memory: no database call")
        // One at a time: the stored answer in place, nil (ask the database) for the unknown sub.
        #expect(cache.withStoredAnswer(for: .pool(old, sub: known.identity.sub)) { $0.userID } == known.userID)
        #expect(cache.withStoredAnswer(for: unknown) { $0.userID } == nil)
    }
}
