public import Cognito
import Foundation
public import IdentityMap

/// Where a run reads a pool's users from: Cognito itself, or a file someone exported earlier
/// (an account StableID has no credentials for, a snapshot to replay).
public enum UserSource: Sendable {
    /// ListUsers on the pool, paged and paced by `client` at the ListUsers quota; from the first
    /// page, or from the page a saved `PaginationToken` names (a read that stopped midway
    /// continues there: each ``UserBatch`` carries the token of the page after it).
    case pool(PoolID, client: CognitoClient, startingAt: String? = nil)
    /// `aws cognito-idp list-users` JSON or a CSV; `format` nil means from the file name.
    case file(path: String, format: UserFileReader.Format?)

    /// The label of every live pool source.
    public static let listUsersLabel = "cognito:ListUsers"

    /// Names the source in logs and event details without its full path
    /// (`cognito:ListUsers`, `file:users.json`).
    public var label: String {
        switch self {
        case .pool: return Self.listUsersLabel
        case .file(let path, _): return "file:\(URL(fileURLWithPath: path).lastPathComponent)"
        }
    }

    /// The users, a ListUsers page or `fileChunk` file records at a time, read only as the
    /// sequence is iterated so memory stays flat whatever the pool's size.
    public func batches(fileChunk: Int = 5_000) -> UserBatches {
        UserBatches(source: self, fileChunk: max(1, fileChunk))
    }
}

/// A chunk of users and how far through its source the run is after it.
public struct UserBatch: Sendable {
    public var records: [CognitoUserRecord]
    public var progress: SourceProgress
    /// From a pool: the `PaginationToken` of the page after this one, nil when this page was the
    /// pool's last. A reader that keeps it with the page's users can continue from there later
    /// (``UserSource/pool(_:client:startingAt:)``). Always nil from a file: files are not resumed,
    /// reading one again is quick.
    public var nextToken: String?

    public init(records: [CognitoUserRecord], progress: SourceProgress, nextToken: String? = nil) {
        self.records = records
        self.progress = progress
        self.nextToken = nextToken
    }
}

/// How far a run has read, in the unit its source has: a file's size is known in bytes, a pool's
/// only in pages.
public enum SourceProgress: Sendable, Equatable, CustomStringConvertible {
    case bytesRead(Int)
    case pagesFetched(Int)

    public var description: String {
        switch self {
        case .bytesRead(let bytes): return "\(bytes / 1_048_576) MiB read"
        case .pagesFetched(let pages): return "\(pages) pages"
        }
    }
}

/// The users of a `UserSource`, batch by batch. Errors are the source's own:
/// `UserFileReader.Failure` for a file, `CognitoError` for a pool.
public struct UserBatches: AsyncSequence, Sendable {
    public typealias Element = UserBatch

    let source: UserSource
    let fileChunk: Int

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(source: source, fileChunk: fileChunk)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        private enum State {
            case notStarted
            case file(UserFileReader)
            case pages(ListUsersPages.AsyncIterator, fetched: Int)
            case finished
        }

        private let source: UserSource
        private let fileChunk: Int
        private var state = State.notStarted

        init(source: UserSource, fileChunk: Int) {
            self.source = source
            self.fileChunk = fileChunk
        }

        public mutating func next() async throws -> UserBatch? {
            if case .notStarted = state {
                switch source {
                case .pool(let pool, let client, let token):
                    state = .pages(client.listUsers(poolID: pool.rawValue, startingAt: token).makeAsyncIterator(), fetched: 0)
                case .file(let path, let format):
                    // The file opens on the first batch, so a source can be described before it is read.
                    state = .file(try UserFileReader(path: path, format: format))
                }
            }
            switch state {
            case .notStarted, .finished:
                return nil
            case .file(let reader):
                let users = try reader.next(max: fileChunk)
                guard !users.isEmpty else {
                    state = .finished
                    return nil
                }
                return UserBatch(records: users.map { CognitoUserRecord($0) }, progress: .bytesRead(reader.bytesRead))
            case .pages(var pages, let fetched):
                state = .finished  // until the page arrives: a failed fetch ends the sequence
                guard let page = try await pages.next() else { return nil }
                state = .pages(pages, fetched: fetched + 1)
                return UserBatch(
                    records: page.Users.map { CognitoUserRecord($0) }, progress: .pagesFetched(fetched + 1), nextToken: page.nextPageToken
                )
            }
        }
    }
}
