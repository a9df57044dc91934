public import CryptoPrimitives
public import Curl
public import Logging
import Synchronization

/// Each registered pool's signing keys, fetched from its JWKS URL through libcurl and kept, so a
/// token check costs a signature check and no request.
///
/// A set is fetched when a pool's first token arrives, again when it is older than
/// ``Configuration/maxAge`` (a key Cognito withdrew stops verifying), and again when a token names
/// a `kid` the set lacks (Cognito rotated its keys) — but that at most once per
/// ``Configuration/refetchInterval`` per pool, so a flood of tokens with made-up key ids costs one
/// request a minute, not one each. Callers that need a pool's set while it is being fetched wait
/// for that one fetch. After a failed fetch, none is tried for ``Configuration/retryAfterFailure``:
/// meanwhile an old set still answers for the keys it has, and a pool with none answers
/// ``TokenRejection/jwksUnavailable``. Only pools the caller found registered get here, so the
/// entries stay as few as the pools.
public final class JWKSCache: Sendable {
    public struct Configuration: Sendable {
        public var refetchInterval: Duration
        public var maxAge: Duration
        public var retryAfterFailure: Duration
        /// Per fetch (the caller waits this long at most).
        public var timeout: Duration
        /// A bigger answer is no key set Cognito would publish (its sets hold two keys, ~1 KB): the
        /// transfer stops as soon as the body passes it, so a broken or hostile endpoint costs this
        /// much memory at most, and the fetch fails like any other.
        public var maxBytes: Int

        public init(
            refetchInterval: Duration = .seconds(60), maxAge: Duration = .seconds(3600), retryAfterFailure: Duration = .seconds(5),
            timeout: Duration = .seconds(3), maxBytes: Int = 64 * 1024
        ) {
            self.refetchInterval = refetchInterval
            self.maxAge = maxAge
            self.retryAfterFailure = retryAfterFailure
            self.timeout = timeout
            self.maxBytes = maxBytes
        }
    }

    private struct Entry {
        var keys: JSONWebKeySet?
        /// When `keys` arrived.
        var fetchedAt: ContinuousClock.Instant?
        /// When the last fetch started, whatever its outcome: what the spacing of fetches counts from.
        var attemptedAt: ContinuousClock.Instant?
        /// The fetch in flight, which every caller that needs one joins; nil on failure.
        var fetch: Task<JSONWebKeySet?, Never>?
    }

    /// What a lookup does next, decided under the lock.
    private enum Step: Sendable {
        case found(RSAPublicKey)
        case refused(TokenRejection)
        /// Wait for `fetch`; `stale` answers if it fails.
        case wait(Task<JSONWebKeySet?, Never>, stale: RSAPublicKey?)
    }

    public let configuration: Configuration
    private let http: CurlClient
    private let logger: Logger
    private let now: @Sendable () -> ContinuousClock.Instant
    private let entries = Mutex<[String: Entry]>([:])
    private let started = Atomic<Int>(0)

    /// `now` is the clock the spacing is measured on (tests move it forward).
    public init(
        configuration: Configuration = Configuration(), http: CurlClient = CurlClient(maxConcurrentTransfers: 4),
        logger: Logger = Logger(label: "stableid.jwks"), now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.configuration = configuration
        self.http = http
        self.logger = logger
        self.now = now
    }

    /// How many fetches have been started.
    public var fetches: Int { started.load(ordering: .relaxed) }

    /// The key `keyID` of `issuer`'s set: `.keyUnknown` when the set (fetched again if allowed)
    /// has none, `.jwksUnavailable` when no set could be had.
    public func key(_ keyID: String, of issuer: TokenIssuer) async throws(TokenRejection) -> RSAPublicKey {
        switch step(keyID, issuer) {
        case .found(let key):
            return key
        case .refused(let rejection):
            throw rejection
        case .wait(let fetch, let stale):
            guard let keys = await fetch.value else {
                if let stale { return stale }
                throw .jwksUnavailable
            }
            guard let key = keys[keyID] else { throw .keyUnknown }
            return key
        }
    }

    private func step(_ keyID: String, _ issuer: TokenIssuer) -> Step {
        let now = self.now()
        return entries.withLock { entries -> Step in
            var entry = entries[issuer.poolID] ?? Entry()
            let known = entry.keys?[keyID]
            let fresh = entry.fetchedAt.map { now - $0 < configuration.maxAge } ?? false
            if fresh, let known { return .found(known) }
            if let fetch = entry.fetch { return .wait(fetch, stale: known) }
            // A fetch is due — no set, an old one, or a kid the set lacks — if the last is far
            // enough back: a minute for an unknown kid in a fresh set, a few seconds otherwise.
            let spacing = fresh ? configuration.refetchInterval : configuration.retryAfterFailure
            if let attempted = entry.attemptedAt, now - attempted < spacing {
                if let known { return .found(known) }
                return .refused(entry.keys == nil ? .jwksUnavailable : .keyUnknown)
            }
            entry.attemptedAt = now
            let fetch = Task { await self.fetch(issuer) }
            entry.fetch = fetch
            entries[issuer.poolID] = entry
            return .wait(fetch, stale: known)
        }
    }

    /// Fetches `issuer`'s set and records the outcome: a new set replaces the old one, a failure
    /// keeps it.
    private func fetch(_ issuer: TokenIssuer) async -> JSONWebKeySet? {
        started.add(1, ordering: .relaxed)
        let keys = await download(issuer)
        let arrived = now()
        entries.withLock { entries in
            var entry = entries[issuer.poolID] ?? Entry()
            entry.fetch = nil
            if let keys {
                entry.keys = keys
                entry.fetchedAt = arrived
            }
            entries[issuer.poolID] = entry
        }
        return keys
    }

    private func download(_ issuer: TokenIssuer) async -> JSONWebKeySet? {
        let request = CurlRequest(
            method: "GET", url: issuer.jwksURL, headers: [("Accept", "application/json")], timeout: configuration.timeout,
            responseBodyLimit: .fail(above: configuration.maxBytes)
        )
        let metadata: Logger.Metadata = ["pool": "\(issuer.poolID)", "url": "\(issuer.jwksURL)"]
        let response: CurlResponse
        do {
            response = try await http.send(request)
        } catch {
            // A body past `maxBytes` is `.responseTooLarge` here: its text names the limit, never the body.
            logger.warning("JWKS fetch failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return nil
        }
        guard response.status == 200 else {
            logger.warning(
                "JWKS fetch refused",
                metadata: metadata.merging(["status": "\(response.status)", "bytes": "\(response.body.count)"]) { $1 }
            )
            return nil
        }
        do {
            let keys = try JSONWebKeySet(json: response.body)
            logger.info("JWKS fetched", metadata: metadata.merging(["keys": "\(keys.count)", "skipped": "\(keys.skipped)"]) { $1 })
            return keys
        } catch {
            logger.warning("JWKS is not a key set", metadata: metadata)
            return nil
        }
    }
}
