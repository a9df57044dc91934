import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

/// The one rule for following merges: `merged_into` names the survivor itself, so a person is one
/// hop away (`Person.survivor(of:)`), and the database refuses any commit that leaves a chain.
@Suite("Merges point at the survivor", .timeLimit(.minutes(3)))
struct MergeRuleTests {
    @Test("merging a survivor repoints what was merged into it; a hand-made chain is refused at commit")
    func oneHop() async throws {
        let f = try await MapFixture.make()
        let a = try await f.user(try f.identity(f.old, "m-a"))
        let b = try await f.user(try f.identity(f.old, "m-b"))
        let c = try await f.user(try f.identity(f.old, "m-c"))
        _ = try await f.map.merge(a.id, into: b.id, attribution: f.by).run(on: f.db.database)
        _ = try await f.map.merge(b.id, into: c.id, attribution: f.by).run(on: f.db.database)
        // a was repointed to c by the second merge: one hop, in SQL and in Person.find alike.
        let rows = try f.db.rows("SELECT u.id::text AS id, \(fragment: Person.survivor(of: "u"))::text AS person FROM users u")
        let persons = Dictionary(
            uniqueKeysWithValues: try rows.map { (try $0.decode("id", as: String.self), try $0.decode("person", as: String.self)) })
        let id = { (user: UUID) in user.uuidString.lowercased() }
        #expect(persons[id(a.id)] == id(c.id) && persons[id(b.id)] == id(c.id) && persons[id(c.id)] == id(c.id))
        let person = try await f.db.database.primary.withConnection { connection in try Person.find(a.id, on: connection) }
        #expect(person?.userID == c.id && person?.userIDs.count == 3)

        // A chain by hand: d merged into a (which is itself merged) is refused when it commits.
        let d = try await f.user(try f.identity(f.old, "m-d"))
        let connection = try f.db.connect()
        func refused(_ statement: PostgresQuery) -> Bool {
            do {
                try connection.execute(statement)
                return false
            } catch let error as PostgresError {
                return error.sqlState == "23514"  // check_violation: the trigger's (its text is redacted, class 23)
            } catch {
                return false
            }
        }
        #expect(refused("UPDATE users SET status = 'merged', merged_into = \(a.id) WHERE id = \(d.id)"))
        // So is merging a survivor while users still point at it.
        #expect(refused("UPDATE users SET status = 'merged', merged_into = \(d.id) WHERE id = \(c.id)"))
        // Checked when the transaction commits: repointing first, in the same transaction, is a merge.
        try connection.execute("BEGIN")
        try connection.execute("UPDATE users SET status = 'merged', merged_into = \(d.id) WHERE id = \(c.id)")
        try connection.execute("UPDATE users SET merged_into = \(d.id) WHERE merged_into = \(c.id)")
        try connection.execute("COMMIT")
        #expect(try f.db.count("users", where: "merged_into = '\(d.id.uuidString.lowercased())'") == 3)
        #expect(try f.db.count("users", where: "merged_into IS NOT NULL") == 3)
    }
}
