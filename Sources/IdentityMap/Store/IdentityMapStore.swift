public import Foundation
import Postgres

/// The identity map's entry point for the API and the CLI: reads here, writes by use case in
/// `IdentityMapStore+Link.swift` and `IdentityMapStore+Merge.swift`.
///
/// Every write returns a ``Write`` that records its event in the same transaction. Reads go to the
/// reader client (a replica when configured).
public struct IdentityMapStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public static let maxBatch = ResolveQueries.maxBatch

    public func resolve(_ reference: IdentityReference) async throws -> Resolution? {
        try await database.reader.withConnection { connection in
            try ResolveQueries.resolve(reference, on: connection)
        }
    }

    /// Resolves up to ``maxBatch`` references in one round trip; answers in the order asked.
    public func resolve(batch references: [IdentityReference]) async throws -> [Resolution?] {
        guard references.count <= Self.maxBatch else {
            throw IdentityMapError.invalidInput(field: "items", reason: "at most \(Self.maxBatch) items per batch")
        }
        if references.isEmpty { return [] }
        return try await database.reader.withConnection { connection in
            try ResolveQueries.resolve(batch: references, on: connection)
        }
    }

    /// `consistency=strong`: the primary, which has every committed change (a replica may lag);
    /// the reader only while the primary is unreachable, so lookups go on through its outage.
    public func resolveStrongly(batch references: [IdentityReference]) async throws -> [Resolution?] {
        guard database.reader !== database.primary else { return try await resolve(batch: references) }
        guard references.count <= Self.maxBatch else {
            throw IdentityMapError.invalidInput(field: "items", reason: "at most \(Self.maxBatch) items per batch")
        }
        if references.isEmpty { return [] }
        do {
            return try await database.primary.withConnection { connection in
                try ResolveQueries.resolve(batch: references, on: connection)
            }
        } catch  where isDatabaseUnavailable(error) {
            return try await resolve(batch: references)
        }
    }

    /// The user, following merges to the survivor (then `requestedID` names the ID asked).
    public func user(_ id: UUID) async throws -> User? {
        try await database.reader.withConnection { connection in
            guard let person = try Person.find(id, on: connection) else { return nil }
            var user = try IdentityRows.loadUser(person.userID, on: connection)
            user?.requestedID = person.requestedID
            return user
        }
    }

    /// The person behind a user ID (following merges), for history and erasure.
    public func person(_ id: UUID) async throws -> Person? {
        try await database.reader.withConnection { connection in
            try Person.find(id, on: connection)
        }
    }

    /// Users with an identity whose normalized email equals the given one's.
    public func users(email: String) async throws -> [User] {
        guard let normalized = EmailAddress.normalize(email) else {
            throw IdentityMapError.invalidInput(field: "email", reason: "is not an email address")
        }
        return try await database.reader.withConnection { connection in
            let ids = try connection.query(
                """
                SELECT DISTINCT user_id FROM identities
                WHERE email_normalized = \(normalized) AND status <> 'unlinked'
                ORDER BY user_id LIMIT 100
                """
            ).map { try $0.decode("user_id", as: UUID.self) }
            return try ids.compactMap { try IdentityRows.loadUser($0, on: connection) }
        }
    }
}
