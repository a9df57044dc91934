import ChangeFeed
import Curl
import Foundation
import Logging
import Support

/// Delivers one endpoint, from its durable cursor, while this server holds its lease.
///
/// The loop: read the feed after the cursor (``scan()``, `WebhookWorker+Scan.swift`); a message
/// found — up to ``WebhookSettings/batchSize`` changes of the endpoint's kinds — is pinned in the
/// row, then attempted until the receiver answers 2xx (`WebhookWorker+Delivery.swift`), and only
/// then does the cursor move past it. Positions holding nothing for the endpoint move the cursor
/// without a request. Caught up, it waits for the server's ``ChangeNotifier`` (a commit that
/// published changes), a hole in the feed to be given up, or a second.
///
/// So: in order, per endpoint (one message in flight at a time); at least once (a server killed
/// between the receiver's answer and the cursor's write sends that message again, under the
/// same `webhook-id`); nothing skipped (the cursor never passes a change that was not delivered).
struct WebhookWorker {
    let context: DeliveryContext
    let endpoint: Endpoint
    let signer: WebhookSigner
    let metrics: EndpointMetrics
    /// Its own libcurl handle: connections are kept per endpoint, and one opened under one
    /// endpoint's address rule is never reused by another's.
    let http = CurlClient(maxConcurrentTransfers: 1)

    var cursor: Int64
    var pendingThrough: Int64?
    var attempts: Int
    var nextAttemptAt: Date?
    /// When this worker last wrote its row (each write renews the lease).
    var lastWrite = ContinuousClock.now

    /// The worker stopped itself: the endpoint is disabled (its event written).
    struct Disabled: Error {}

    init(endpoint: Endpoint, context: DeliveryContext) {
        self.context = context
        self.endpoint = endpoint
        self.signer = WebhookSigner(secret: endpoint.secret)
        self.metrics = context.metrics.endpoint(endpoint.id)
        self.cursor = endpoint.cursor
        self.pendingThrough = endpoint.pendingThrough
        self.attempts = endpoint.attempts
        self.nextAttemptAt = endpoint.nextAttemptAt
    }

    var id: UUID { endpoint.id }
    var settings: WebhookSettings { context.settings }

    var logMetadata: Logger.Metadata {
        ["webhook": "\(id.uuidString.lowercased())", "url": "\(endpoint.url.redacted)"]
    }

    /// Delivers until the server stops (then gives the lease back), the lease is lost, or the
    /// endpoint is disabled. A failing database is retried with backoff; the lease it could not
    /// renew meanwhile may go to another server, which this one learns at its next write.
    mutating func run() async {
        context.metrics.workerStarted()
        defer { context.metrics.workerStopped() }
        context.logger.info("webhook delivery started", metadata: logMetadata)
        var failures = 0
        while !context.isStopping {
            do {
                try await step()
                failures = 0
            } catch is LeaseLost {
                context.logger.info("webhook lease lost: removed, disabled or delivered by another server", metadata: logMetadata)
                return
            } catch is Disabled {
                return
            } catch {
                failures += 1
                var metadata = logMetadata
                metadata["error"] = "\(type(of: error))"
                if failures == 1 { context.logger.warning("webhook delivery interrupted; will retry", metadata: metadata) }
                await context.signal.nap(until: .now + .milliseconds(min(5_000, 100 << min(failures, 6))))
            }
        }
        // A graceful stop: another server may take over at once.
        try? await context.store.release(id, owner: context.owner)
        context.logger.info("webhook delivery stopped", metadata: logMetadata)
    }

    /// One turn: deliver the next message, or move over what is not for this endpoint, or wait.
    mutating func step() async throws {
        // Taken before the read: a commit between the read and the wait ends the wait at once.
        let generation = context.notifier.generation
        let scan: Scan
        do {
            scan = try await self.scan()
        } catch is ChangeFeedError {
            // Pruned past the retention (or ahead of this database's feed): what was missed is gone.
            try await disable(reason: "cursor_expired")
        }
        switch scan.next {
        case .idle(let position, let retryAt):
            if position > cursor { try await advance(to: position) } else { try await renewIfDue() }
            metrics.lag(behind: scan.end - cursor, oldest: nil)
            // An idle endpoint reads the feed again only when a commit is heard or its hole is due;
            // meanwhile it wakes each second to notice a stop and keep its lease.
            while !context.isStopping {
                if await context.notifier.waitForRead(since: generation, retryAt: retryAt, until: .now + .seconds(1)) { break }
                try await renewIfDue()
            }
        case .skip(let position):
            try await advance(to: position)
        case .message(let changes, let through):
            metrics.lag(behind: scan.end - cursor, oldest: changes.first?.publishedAt)
            try await deliver(changes, through: through, end: scan.end)
        }
    }

    mutating func advance(to position: Int64) async throws {
        try await context.store.advance(id, owner: context.owner, to: position, lease: settings.lease)
        cursor = max(cursor, position)
        if let pinned = pendingThrough, pinned <= cursor { pendingThrough = nil }
        lastWrite = .now
    }

    mutating func renewIfDue() async throws {
        guard ContinuousClock.now - lastWrite >= settings.renewAfter else { return }
        try await context.store.renew(id, owner: context.owner, lease: settings.lease)
        lastWrite = .now
    }

    /// Disables the endpoint with its event and stops (``Disabled``); a lease already gone stops it too.
    func disable(reason: String) async throws -> Never {
        if try await context.store.disable(id, owner: context.owner, reason: reason) {
            var metadata = logMetadata
            metadata["reason"] = "\(reason)"
            metadata["attempts"] = "\(attempts)"
            context.logger.warning("webhook disabled", metadata: metadata)
            throw Disabled()
        }
        throw LeaseLost()
    }
}
