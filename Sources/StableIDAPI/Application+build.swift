import AuditTrail
public import ChangeFeed
public import Cognito
import CognitoIngest
public import Hummingbird
public import IdentityMap
public import Logging
public import LookupCache
import Metrics
public import Prometheus
import Reconciliation
import ServiceLifecycle
import Support
public import UserMigration
public import Webhooks

/// What the HTTP service needs to run.
public struct APIConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// libpq conninfo of the primary (also used by the token-revocation listener).
    public var databaseURL: String
    public var maxBodyBytes: Int
    public var tokenCacheTTL: Duration
    /// Lookup batches in flight at once (see ``ResolveCoalescer``).
    public var resolveBatches: Int
    /// Lookups waiting for a batch before new ones are shed with 503 `overloaded`.
    public var maxQueuedLookups: Int
    /// Connections with no traffic for this long are closed.
    public var idleTimeout: Duration
    /// A request body must arrive within this long (slow senders get 408).
    public var bodyTimeout: Duration
    /// Answer lookups from the in-process read model kept fresh by the change feed
    /// (`STABLEID_LOOKUP_CACHE`, on by default); off, every lookup asks PostgreSQL.
    public var lookupCache: Bool
    /// Batch lookups sent to PostgreSQL at once while the lookup cache is not live
    /// (`STABLEID_COLD_BATCHES`); more are shed with 503 `overloaded` (``ColdBatchAdmission``).
    public var coldBatchesInFlight: Int
    /// `/readyz` answers 200 before the lookup cache has been live (`STABLEID_READY_BEFORE_WARM`).
    public var readyBeforeWarm: Bool
    /// After SIGTERM, how long `/readyz` answers 503 while requests are still served, before the
    /// listener closes (`STABLEID_DRAIN_SECONDS`).
    public var drainPeriod: Duration
    /// Mark the report pages' cookies `Secure` (`STABLEID_REPORT_SECURE_COOKIES`). `serve` speaks
    /// plain HTTP, so TLS is a proxy's: on by default, except on a loopback address, where a
    /// browser on the same machine talks to the service directly.
    public var reportSecureCookies: Bool
    /// How long the change feed keeps published changes (`STABLEID_CHANGES_RETENTION_DAYS`, 7 days
    /// by default): a consumer may stop reading that long and still resume from its cursor.
    public var changesRetention: Duration
    /// A change stream with nothing to send sends a comment this often, so proxies keep it open
    /// (`STABLEID_CHANGES_KEEPALIVE_S`, 15 s by default).
    public var changesKeepAlive: Duration
    /// The longest a long poll of the feed is held (`STABLEID_CHANGES_MAX_WAIT_S`, 30 s by
    /// default, the most a client may ask): lower it behind a proxy with a shorter idle timeout.
    public var changesMaxWait: Duration
    /// Whether a full page of the feed starts reading the next one for the consumer
    /// (`STABLEID_CHANGES_READ_AHEAD`, on by default): off behind a load balancer that spreads
    /// one consumer's requests over servers, where the page read ahead is seldom asked of its server.
    public var changesReadAhead: Bool
    /// How many verified tokens `POST /v1/resolve/token` remembers, so a token presented again is
    /// not parsed and RSA-checked again (`STABLEID_TOKEN_MEMO_ENTRIES`, 50,000; 0: none).
    public var tokenMemoEntries: Int
    /// How `serve` delivers webhooks (batch size, timeout, backoff, give-up window, lease;
    /// `STABLEID_WEBHOOK_*`).
    public var webhooks: WebhookSettings

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        databaseURL: String,
        maxBodyBytes: Int = 1 << 20,
        tokenCacheTTL: Duration = .seconds(30),
        resolveBatches: Int = 1,
        maxQueuedLookups: Int = 10_000,
        idleTimeout: Duration = .seconds(30),
        bodyTimeout: Duration = .seconds(10),
        lookupCache: Bool = true,
        coldBatchesInFlight: Int = 4,
        readyBeforeWarm: Bool = false,
        drainPeriod: Duration = .seconds(5),
        reportSecureCookies: Bool? = nil,
        changesRetention: Duration = ChangeFeedLog.defaultRetention,
        changesKeepAlive: Duration = .seconds(15),
        changesMaxWait: Duration = .seconds(30),
        changesReadAhead: Bool = true,
        tokenMemoEntries: Int = VerifiedTokenMemo.defaultCapacity,
        webhooks: WebhookSettings = WebhookSettings()
    ) {
        self.tokenMemoEntries = tokenMemoEntries
        self.webhooks = webhooks
        self.changesRetention = changesRetention
        self.changesKeepAlive = changesKeepAlive
        self.changesMaxWait = changesMaxWait
        self.changesReadAhead = changesReadAhead
        self.lookupCache = lookupCache
        self.coldBatchesInFlight = coldBatchesInFlight
        self.readyBeforeWarm = readyBeforeWarm
        self.drainPeriod = drainPeriod
        self.reportSecureCookies = reportSecureCookies ?? !Self.isLoopback(host)
        self.resolveBatches = resolveBatches
        self.maxQueuedLookups = maxQueuedLookups
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
        self.host = host
        self.port = port
        self.databaseURL = databaseURL
        self.maxBodyBytes = maxBodyBytes
        self.tokenCacheTTL = tokenCacheTTL
    }

    /// `127.0.0.0/8`, `::1` or `localhost`.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

/// The router with every route, its scope and the shared middleware. Separate from the application
/// so tests can drive it without a socket.
public func buildRouter(
    configuration: APIConfiguration,
    database: Database,
    authenticator: TokenAuthenticator,
    readiness: ReadinessProbe,
    registry: PrometheusCollectorRegistry,
    lookupCache: LookupCache? = nil, triggers: TriggerService? = nil,
    serving: ServingState? = nil, changeNotifier: ChangeNotifier? = nil, changeMetrics: ChangeFeedMetrics? = nil,
    tokenVerification: TokenVerification = TokenVerification()
) -> Router<AppRequestContext> {
    let factory = httpMetricsFactory(registry: registry)
    let identityMap = IdentityMapStore(database: database)
    let eventQuery = EventQuery(database: database)
    let bodyReader = RequestBodyReader(maxBytes: configuration.maxBodyBytes, timeout: configuration.bodyTimeout)
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: HTTPMetricsMiddleware(metrics: HTTPMetrics(factory: factory)))
    router.add(middleware: ProblemMiddleware())
    let serving = serving ?? ServingState(cache: lookupCache, readyBeforeWarm: configuration.readyBeforeWarm)
    router.add(middleware: DrainMiddleware(drain: serving.drain))

    HealthController(
        readiness: readiness, serving: serving, registry: registry, poolGauges: PoolGauges(database: database, registry: registry),
        findings: FindingStore(database: database)
    )
    .register(on: router)

    func scoped(_ scope: Scope) -> RouterGroup<AppRequestContext> {
        let group = router.group("v1").add(middleware: ScopeMiddleware(scope: scope, authenticator: authenticator))
        // A write through this server is never read back undone from memory (read-your-writes).
        if let lookupCache, [.write, .merge, .admin].contains(scope) {
            return group.add(middleware: LocalWriteMiddleware(cache: lookupCache))
        }
        return group
    }
    let pointInTime = PointInTime(database: database)
    let users = UserController(
        identityMap: identityMap, eventQuery: eventQuery, pointInTime: pointInTime, database: database, bodyReader: bodyReader
    )
    let coalescer = ResolveCoalescer(
        store: identityMap, maxConcurrentBatches: configuration.resolveBatches, maxQueued: configuration.maxQueuedLookups
    )
    let resolve = ResolveController(
        identityMap: identityMap, pointInTime: pointInTime, bodyReader: bodyReader, cache: lookupCache, coalescer: coalescer,
        coldBatches: ColdBatchAdmission(limit: configuration.coldBatchesInFlight)
    )
    resolve.register(on: scoped(.resolve))
    // Token lookups verify, then resolve through the same path (pool writes here refresh their issuers).
    let tokenLookups = TokenResolveController(
        resolver: resolve, bodyReader: bodyReader, verification: tokenVerification, pools: PoolStore(database: database), metrics: factory)
    tokenLookups.register(on: scoped(.resolve))
    users.registerReads(on: scoped(.resolve))
    users.registerHistory(on: scoped(.audit))
    users.registerWrites(on: scoped(.write))
    users.registerMerges(on: scoped(.merge))
    AdminController(
        pools: PoolStore(database: database), tokens: TokenStore(database: database), database: database, bodyReader: bodyReader,
        authenticator: authenticator, issuers: tokenLookups.issuers
    ).register(on: scoped(.admin))
    CampaignController(campaigns: CampaignStore(database: database)).register(on: scoped(.admin))
    WebhookController(webhooks: WebhookStore(database: database), database: database, bodyReader: bodyReader).register(on: scoped(.admin))
    CampaignProgressController(campaigns: CampaignStore(database: database), progress: CampaignProgressStore(database: database))
        .register(on: scoped(.audit))
    ReconciliationController(findings: FindingStore(database: database), campaigns: CampaignStore(database: database))
        .register(on: scoped(.audit))
    let triggers =
        triggers
        ?? TriggerService(database: database, clients: PoolClients(), logger: Logger(label: "stableid.triggers"), metricsFactory: factory)
    TriggerController(bodyReader: bodyReader, triggers: triggers, cache: lookupCache).register(on: scoped(.trigger))
    let events = EventController(query: eventQuery, erasure: Erasure(database: database))
    events.register(on: scoped(.audit))
    events.registerAdmin(on: scoped(.admin))
    ChangesController(database, configuration, notifier: changeNotifier, metrics: changeMetrics, drain: serving.drain)
        .register(on: scoped(.changes))
    // The report pages: a form sign-in, then a session cookie instead of a bearer token (HTML answers).
    ReportController(
        database: database, authenticator: authenticator, eventQuery: eventQuery, bodyReader: bodyReader,
        secureCookies: configuration.reportSecureCookies
    ).register(on: router.group("report").add(middleware: ReportPageMiddleware()))
    return router
}

/// The whole service: HTTP server plus the token-revocation listener, with graceful shutdown.
/// `authenticator`: made from `configuration` and `database` when nil (tests pass their own to
/// watch its cache). `tokenVerification`: where token lookups find the pools' signing keys; by
/// default each pool's Cognito endpoint from the environment (tests serve keys of their own).
public func buildApplication(
    configuration: APIConfiguration,
    database: Database,
    logger: Logger,
    authenticator: TokenAuthenticator? = nil,
    drain: DrainSignal = DrainSignal(),
    tokenVerification: TokenVerification? = nil
) -> some ApplicationProtocol {
    let authenticator = authenticator ?? TokenAuthenticator(store: TokenStore(database: database), ttl: configuration.tokenCacheTTL)
    let registry = PrometheusCollectorRegistry()
    let readiness = ReadinessProbe(database: database, logger: logger)
    let lookupCache = configuration.lookupCache ? LookupCache(metricsFactory: PrometheusMetricsFactory(registry: registry)) : nil
    let serving = ServingState(cache: lookupCache, readyBeforeWarm: configuration.readyBeforeWarm, drain: drain)
    let clients = PoolClients()
    let triggers = TriggerService(
        database: database, clients: clients, logger: Logger(label: "stableid.triggers"),
        metricsFactory: PrometheusMetricsFactory(registry: registry))
    // One LISTEN connection per server wakes every waiting reader of the change feed.
    let changeMetrics = ChangeFeedMetrics(factory: httpMetricsFactory(registry: registry))
    let changeNotifier = ChangeNotifier(conninfo: configuration.databaseURL, logger: logger, metrics: changeMetrics)
    let router = buildRouter(
        configuration: configuration, database: database, authenticator: authenticator, readiness: readiness, registry: registry,
        lookupCache: lookupCache, triggers: triggers, serving: serving, changeNotifier: changeNotifier, changeMetrics: changeMetrics,
        tokenVerification: tokenVerification
            ?? TokenVerification(clients: clients, memo: VerifiedTokenMemo(capacity: configuration.tokenMemoEntries))
    )
    var services: [any Service] = [
        readiness,
        TokenRevocationListener(conninfo: configuration.databaseURL, authenticator: authenticator, logger: logger),
        ChangeFeedService(notifier: changeNotifier),
        // After the notifier it waits on: stopped first, so its workers end while the feed still wakes them.
        WebhookDeliveryService(
            dispatcher: WebhookDispatcher(
                database: database, notifier: changeNotifier, settings: configuration.webhooks,
                metrics: WebhookMetrics(factory: webhookMetricsFactory(registry: registry)), logger: logger,
                encode: { changes, next in try WebhookPayloadJSON.encode(changes, next: next) })),
        AuditSealerService(database: database, logger: logger),
        PeriodicService.housekeeping(database: database, logger: logger, changesRetention: configuration.changesRetention),
        PeriodicService.migrationRefusals(triggers: triggers, logger: logger),
        PeriodicService.signIns(triggers: triggers, logger: logger),
        PeriodicService.targetFactsRefresh(TargetFactsRefresh(database: database, clients: clients, logger: logger), logger: logger),
    ]
    if let lookupCache { services.append(LookupCacheService(cache: lookupCache, database: database, logger: logger)) }
    return Application(
        router: router,
        // A connection idle this long is closed, so idle or stalled clients cannot pile up sockets.
        server: .http1(configuration: .init(idleTimeout: .nanoseconds(configuration.idleTimeout.nanoseconds))),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "stableid"),
        services: services,
        logger: logger
    )
}

/// The routes' factory, with webhook attempts measured up to their 10 s timeout.
func webhookMetricsFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
    var factory = httpMetricsFactory(registry: registry)
    factory.durationHistogramBuckets["stableid_webhook_delivery_seconds"] = [
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]
    return factory
}

/// Metrics for the routes, with duration buckets fine enough for sub-millisecond lookups.
func httpMetricsFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
    var factory = PrometheusMetricsFactory(registry: registry)
    factory.defaultDurationHistogramBuckets = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(3),
        .milliseconds(5), .milliseconds(7.5), .milliseconds(10), .milliseconds(15), .milliseconds(25), .milliseconds(50),
        .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
    ]
    return factory
}
