public import ChangeFeed
public import Foundation
public import IdentityMap
public import Logging
import Synchronization

/// `serve`'s webhook deliveries: every ``WebhookSettings/scanInterval`` it claims the enabled
/// endpoints no server holds (new ones, ones enabled again, ones a stopped server left, up to
/// ``WebhookSettings/maxEndpoints``) and runs a ``WebhookWorker`` for each, until ``stop()``.
/// Several servers share the endpoints through the leases (sql/0024): one delivers each.
public final class WebhookDispatcher: Sendable {
    let context: DeliveryContext
    /// The endpoints this server's workers deliver now.
    private let running = Mutex<Set<UUID>>([])

    public init(
        database: Database, notifier: ChangeNotifier, settings: WebhookSettings = WebhookSettings(), metrics: WebhookMetrics,
        logger: Logger, encode: @escaping WebhookBodyEncoder
    ) {
        context = DeliveryContext(
            store: WebhookStore(database: database), feed: ChangeFeedStore(database: database), notifier: notifier,
            settings: settings, owner: UUID(), encode: encode, metrics: metrics, logger: logger, signal: StopSignal())
    }

    /// Delivers until ``stop()`` is called (or the task is cancelled); returns once every worker
    /// has finished its request in flight and given its lease back.
    public func run() async {
        await withDiscardingTaskGroup { group in
            var failures = 0
            while !context.isStopping {
                do {
                    for endpoint in try await claim() {
                        group.addTask { await self.work(endpoint) }
                    }
                    context.metrics.endpoints(try await context.store.countByState())
                    failures = 0
                } catch {
                    failures += 1
                    if failures == 1 {
                        context.logger.warning(
                            "looking for webhooks to deliver failed; will retry", metadata: ["error": "\(type(of: error))"])
                    }
                }
                await context.signal.nap(until: .now + context.settings.scanInterval)
            }
        }
    }

    /// Stops: workers end after their request in flight, if any, and give their leases back.
    public func stop() {
        context.signal.stop()
    }

    /// The endpoints this server delivers now (for tests).
    public var delivering: Set<UUID> {
        running.withLock { $0 }
    }

    private func claim() async throws -> [Endpoint] {
        let held = running.withLock { Array($0) }
        let claimed = try await context.store.claim(
            owner: context.owner, except: held, limit: context.settings.maxEndpoints - held.count, lease: context.settings.lease)
        running.withLock { running in
            for endpoint in claimed { running.insert(endpoint.id) }
        }
        return claimed
    }

    private func work(_ endpoint: Endpoint) async {
        defer { _ = running.withLock { $0.remove(endpoint.id) } }
        var worker = WebhookWorker(endpoint: endpoint, context: context)
        await worker.run()
    }
}
