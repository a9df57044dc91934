public import ChangeFeed
public import ServiceLifecycle

/// Runs the server's one ``ChangeNotifier``: a LISTEN connection to the primary whose NOTIFYs
/// wake every long poll and stream of `GET /v1/changes` in this process. While it is not
/// connected, those waiters poll (every 100 ms), so a lost connection delays them, never loses
/// a change: what changed is always read from the feed.
public struct ChangeFeedService: Service {
    let notifier: ChangeNotifier

    public init(notifier: ChangeNotifier) {
        self.notifier = notifier
    }

    public func run() async throws {
        // A graceful shutdown cancels it once the server has finished its requests (the group
        // stops services in reverse order, the HTTP server first).
        await cancelWhenGracefulShutdown { [notifier] in
            await notifier.run()
        }
    }
}
