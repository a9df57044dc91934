public import ChangeFeed
import Foundation
import Logging
import Synchronization

/// Writes the body of one message: the changes it carries and the cursor after them. The API
/// module gives the change feed's own encoder (`ChangeJSON`), so a delivered change is byte for
/// byte what `GET /v1/changes` answers. It must be deterministic: a retry sends the same bytes.
public typealias WebhookBodyEncoder = @Sendable (_ changes: [FeedChange], _ next: FeedCursor) throws -> [UInt8]

/// Set once by a graceful shutdown; every wait of the dispatcher and its workers looks at it at
/// least every 250 ms (or a second, while waiting for the feed), so they stop promptly — after
/// the request in flight, if any — and give their leases back.
final class StopSignal: Sendable {
    private let stopped = Atomic<Bool>(false)

    func stop() { stopped.store(true, ordering: .relaxed) }

    var isStopping: Bool { stopped.load(ordering: .relaxed) || Task.isCancelled }

    /// Sleeps until `deadline`, or less when stopping.
    func nap(until deadline: ContinuousClock.Instant) async {
        while !isStopping, ContinuousClock.now < deadline {
            try? await Task.sleep(until: min(deadline, .now + .milliseconds(250)), clock: .continuous)
        }
    }
}

/// What every worker of a dispatcher shares.
struct DeliveryContext: Sendable {
    let store: WebhookStore
    let feed: ChangeFeedStore
    let notifier: ChangeNotifier
    let settings: WebhookSettings
    /// This server's id in the leases it holds (new at each start).
    let owner: UUID
    let encode: WebhookBodyEncoder
    let metrics: WebhookMetrics
    let logger: Logger
    let signal: StopSignal

    var isStopping: Bool { signal.isStopping }
}
