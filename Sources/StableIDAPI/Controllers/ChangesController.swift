import ChangeFeed
import Foundation
import HTTPTypes
import Hummingbird
import IdentityMap
import Logging
import Support

/// `GET /v1/changes` (scope `changes`): what backends act on — identities linked, unlinked,
/// moved, disabled, enabled, deleted; people merged, unmerged, erased — in commit order, with the
/// stable IDs and `(pool, sub)` involved and no personal data. Three ways to read it:
/// - a page at once (`after`, `limit`);
/// - a long poll (`wait=S`, at most 30): with nothing after the cursor, the request is held until
///   a commit publishes a change (a NOTIFY heard by the server's one ``ChangeNotifier``), `S`
///   seconds pass, or the server drains;
/// - a Server-Sent Events stream (`Accept: text/event-stream`): `id:` is the cursor after the
///   change, `event:` its kind, `data:` its JSON; resumed with `Last-Event-ID`; a keep-alive
///   comment when nothing was sent for ``keepAlive``; it ends when the server drains.
///
/// `Last-Event-ID`, when sent, is the cursor in every form (it wins over `after`).
///
/// Without a cursor the feed starts at its end: an empty page whose `next` is where to follow
/// from, so a new consumer does not replay history (it takes `next` first, then reads the state
/// it needs, then follows). A malformed cursor is 400 `invalid_cursor`; one the retention
/// pruned past, from another database, or naming a change a failover lost is 410 `cursor_expired`.
struct ChangesController {
    let store: ChangeFeedStore
    let notifier: ChangeNotifier
    let metrics: ChangeFeedMetrics
    let drain: DrainSignal
    /// How long a stream may send nothing before it sends a comment (`STABLEID_CHANGES_KEEPALIVE_S`).
    let keepAlive: Duration
    /// The longest this server holds a long poll (`STABLEID_CHANGES_MAX_WAIT_S`, at most
    /// ``maxWaitSeconds``): a longer `wait` is served as this, for a proxy with a shorter idle timeout.
    let maxWait: Duration
    /// The next page of each consumer catching up, read while it parses the last one; nil when
    /// switched off (`STABLEID_CHANGES_READ_AHEAD=off`: behind a load balancer that spreads one
    /// consumer's requests over servers, a page read ahead is seldom asked of the server that read it).
    let readAhead: ChangePageReadAhead?

    /// The longest `wait` a client may ask for: below common proxies' idle timeouts (60 s).
    static let maxWaitSeconds = 30
    static let defaultLimit = 100

    /// Over `database`, with the application's notifier and metrics; without a notifier of its
    /// own (a router driven without the application's services) its waiters poll.
    init(
        _ database: Database, _ configuration: APIConfiguration, notifier: ChangeNotifier?, metrics: ChangeFeedMetrics?, drain: DrainSignal
    ) {
        self.init(
            store: ChangeFeedStore(database: database),
            notifier: notifier ?? ChangeNotifier(conninfo: configuration.databaseURL, logger: Logger(label: "stableid.changes")),
            metrics: metrics ?? ChangeFeedMetrics(), drain: drain, keepAlive: configuration.changesKeepAlive,
            maxWait: configuration.changesMaxWait, readAhead: configuration.changesReadAhead
        )
    }

    init(
        store: ChangeFeedStore, notifier: ChangeNotifier, metrics: ChangeFeedMetrics, drain: DrainSignal, keepAlive: Duration,
        maxWait: Duration, readAhead: Bool = true
    ) {
        self.store = store
        self.notifier = notifier
        self.metrics = metrics
        self.drain = drain
        self.keepAlive = keepAlive
        self.maxWait = maxWait
        self.readAhead = readAhead ? ChangePageReadAhead() : nil
    }

    func register(on group: RouterGroup<AppRequestContext>) {
        group.get("changes", use: list)
    }

    @Sendable func list(request: Request, context: AppRequestContext) async throws -> Response {
        let parameters = request.uri.queryParameters
        let limit = try RequestValue.limit(parameters, maximum: ChangeFeedStore.maxPage, default: Self.defaultLimit)
        let wait = try Self.wait(parameters.get("wait"))
        let streaming = (request.headers[.accept] ?? "").contains("text/event-stream")
        // A stream's reconnect sends the URL it began with plus Last-Event-ID: the header is later.
        let lastEventID = request.headers[.lastEventID]
        // `after` is checked even when the header wins: a malformed one is the client's bug to hear of.
        let after = try Self.cursor(parameters.get("after"), field: "after")
        let cursor = try lastEventID.map { try Self.cursor($0, field: "Last-Event-ID") } ?? after
        if streaming {
            metrics.request(.stream)
            return try await stream(from: cursor, limit: limit)
        }
        guard let cursor else {
            metrics.request(.page)
            return Self.json(ChangePageJSON.bytes([], next: try await store.end(), hasMore: false))
        }
        metrics.request(wait > .zero ? .wait : .page)
        let answer: ChangePageReadAhead.Answer
        // A page read ahead answers a long poll only when it holds changes; an empty one is
        // waited on afresh.
        if let readAhead, let ahead = await readAhead.take(.init(after: cursor, limit: limit)),
            !ahead.page.changes.isEmpty || wait == .zero
        {
            metrics.readAheadUsed()
            answer = ahead
        } else {
            answer = Self.answer(try await waitForChanges(after: cursor, limit: limit, wait: min(wait, maxWait)))
        }
        // The lag up to now: the read's database clock plus the time the page was kept.
        let kept = ContinuousClock.now - answer.readAt
        metrics.delivered(answer.page.changes, databaseNow: answer.page.databaseNow?.addingTimeInterval(kept.seconds))
        if answer.page.hasMore { startReadAhead(after: answer.page.next, limit: limit) }
        return Self.json(answer.body)
    }

    /// Reads and encodes the page after `cursor` in the background (``ChangePageReadAhead``),
    /// unless read-ahead is off or the server drains.
    func startReadAhead(after cursor: FeedCursor, limit: Int) {
        guard let readAhead else { return }
        guard !drain.isDraining else { return readAhead.removeAll() }
        readAhead.start(.init(after: cursor, limit: limit)) { [self] in
            Self.answer(try await readPage(after: cursor, limit: limit))
        }
    }

    static func answer(_ page: ChangeFeedStore.Page) -> ChangePageReadAhead.Answer {
        .init(page: page, body: ChangePageJSON.bytes(page.changes, next: page.next, hasMore: page.hasMore))
    }

    /// The page after `cursor`; when it is empty and `wait` > 0, held until a change is ready,
    /// `wait` has passed or the server drains. Reads again on every NOTIFY, and when a hole that
    /// stopped the page is given up.
    func waitForChanges(after cursor: FeedCursor, limit: Int, wait: Duration) async throws -> ChangeFeedStore.Page {
        let deadline = ContinuousClock.now + wait
        // Taken before each read: a commit between the read and the wait ends the wait at once.
        var generation = notifier.generation
        var page = try await readPage(after: cursor, limit: limit)
        guard page.changes.isEmpty, wait > .zero else { return page }
        metrics.held()
        defer { metrics.released() }
        while page.changes.isEmpty {
            if !page.hasMore {
                guard ContinuousClock.now < deadline, !drain.isDraining, !Task.isCancelled else { break }
                // At most a second at a time, so a drain is noticed while nothing commits.
                let readAgain = await notifier.waitForRead(
                    since: generation, retryAt: page.retryAt, until: min(deadline, .now + .seconds(1)))
                if !readAgain { continue }
            }
            generation = notifier.generation
            page = try await readPage(after: page.next, limit: limit)
        }
        return page
    }

    /// Every page a consumer's request reads, counted: what held requests cost the database.
    func readPage(after cursor: FeedCursor, limit: Int) async throws -> ChangeFeedStore.Page {
        metrics.pageRead()
        return try await store.page(after: cursor, limit: limit)
    }

    static func json(_ page: [UInt8]) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: page)))
    }

    /// `wait`: whole seconds, 0 to ``maxWaitSeconds``; absent is 0 (answer at once).
    static func wait(_ text: String?) throws -> Duration {
        guard let text else { return .zero }
        guard let seconds = Int(text), (0...maxWaitSeconds).contains(seconds) else {
            throw Problem.invalidRequest("wait must be a whole number of seconds from 0 to \(maxWaitSeconds)")
        }
        return .seconds(seconds)
    }

    /// A cursor a client sent (`after` or `Last-Event-ID`), nil when it sent none.
    static func cursor(_ text: String?, field: String) throws -> FeedCursor? {
        guard let text else { return nil }
        guard let cursor = FeedCursor(text: text) else {
            throw Problem(
                .badRequest, code: "invalid_cursor", title: "Not a cursor of the change feed",
                detail: "\(field) must be a cursor the feed gave (`next`, a change's `cursor`, an event's `id`), unchanged")
        }
        return cursor
    }
}

extension HTTPField.Name {
    /// Sent by a Server-Sent Events client when it reconnects: the `id:` of the last event it got.
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
}
