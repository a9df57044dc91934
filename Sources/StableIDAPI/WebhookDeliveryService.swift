public import ServiceLifecycle
public import Webhooks

/// Runs `serve`'s webhook deliveries (``WebhookDispatcher``): a worker per endpoint this server
/// holds the lease of, each from its durable cursor. A graceful shutdown lets every worker finish
/// its request in flight and give its lease back, so another server continues at once; it is
/// listed after ``ChangeFeedService``, so it stops before the notifier it waits on.
public struct WebhookDeliveryService: Service {
    let dispatcher: WebhookDispatcher

    public init(dispatcher: WebhookDispatcher) {
        self.dispatcher = dispatcher
    }

    public func run() async throws {
        let dispatcher = self.dispatcher
        await withGracefulShutdownHandler {
            await dispatcher.run()
        } onGracefulShutdown: {
            dispatcher.stop()
        }
    }
}
