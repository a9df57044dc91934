/// How `serve` delivers webhooks (each from an environment variable of `serve`, docs/OPERATIONS.md).
public struct WebhookSettings: Sendable, Equatable {
    /// The most changes in one request (`STABLEID_WEBHOOK_BATCH`, 100; 1 sends one change per request).
    public var batchSize: Int
    /// One attempt's limit, connection included (`STABLEID_WEBHOOK_TIMEOUT_S`, 10 s).
    public var timeout: Duration
    /// Waits between attempts of a failing message (`STABLEID_WEBHOOK_RETRY_BASE_MS`, 5 s, doubling to 1 h).
    public var backoff: RetryBackoff
    /// How long a message may keep failing before its endpoint is disabled
    /// (`STABLEID_WEBHOOK_GIVE_UP_AFTER_S`, 24 h).
    public var giveUpAfter: Duration
    /// A server's hold on an endpoint, renewed at least every third of it; after a kill -9 another
    /// server takes over once it runs out (`STABLEID_WEBHOOK_LEASE_S`, 30 s). Never shorter than
    /// ``minimumLease(timeout:)``.
    public var lease: Duration
    /// How often a server looks for endpoints to deliver (new, enabled again, left by another server).
    public var scanInterval: Duration
    /// The most endpoints one server delivers at once (`STABLEID_WEBHOOK_WORKERS`, 32); the others
    /// wait for another server, or for a free worker.
    public var maxEndpoints: Int

    public init(
        batchSize: Int = 100, timeout: Duration = .seconds(10), backoff: RetryBackoff = RetryBackoff(),
        giveUpAfter: Duration = .seconds(24 * 3_600), lease: Duration = .seconds(30), scanInterval: Duration = .seconds(1),
        maxEndpoints: Int = 32
    ) {
        self.batchSize = min(max(1, batchSize), 1_000)
        self.timeout = timeout
        self.backoff = backoff
        self.giveUpAfter = giveUpAfter
        // `serve` refuses a shorter lease with a message naming both variables; a value built in
        // code is raised to the rule. The rule covers an attempt that ends within its timeout; a
        // server stalled past its lease can still overlap another, and then only the lease-fenced
        // writes keep the endpoint's cursor right (a message may go out twice, with its id).
        self.lease = max(lease, Self.minimumLease(timeout: timeout))
        self.scanInterval = scanInterval
        self.maxEndpoints = max(1, maxEndpoints)
    }

    /// The lease is renewed when this much of it has passed since the last write.
    var renewAfter: Duration { lease / 3 }

    /// The shortest lease that outlasts a delivery attempt begun under it: `2 × timeout + 3 s`
    /// (23 s for the default 10 s timeout).
    ///
    /// Every write of the endpoint's row extends the lease to a full `lease` from then, and a worker
    /// renews it once a third has passed — but never while its request is in flight. So an attempt
    /// can begin as late as a third of the lease after the last extension, and it must end, and its
    /// outcome be written, within the two thirds left. Otherwise another server takes the endpoint
    /// over while the request is still on its way, and delivers the next message (or this one
    /// again) alongside or before it: out of order. An attempt lasts at most `timeout` plus the
    /// libcurl client's 1 s of grace (`CurlClient`). At `2 × timeout + 3 s` the two thirds are
    /// `4/3 × timeout + 2 s`: the attempt's `timeout + 1 s`, and at least `1 s + timeout / 3` left
    /// to write the outcome.
    public static func minimumLease(timeout: Duration) -> Duration {
        timeout * 2 + .seconds(3)
    }
}
