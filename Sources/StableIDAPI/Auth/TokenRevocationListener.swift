import Foundation
import IdentityMap
public import Logging
public import ServiceLifecycle

/// Evicts revoked tokens from the authenticator's cache as revocations commit anywhere. While it is
/// not connected the cache is switched off, so a revocation is never missed.
public struct TokenRevocationListener: Service {
    let conninfo: String
    let authenticator: TokenAuthenticator
    let logger: Logger

    public init(conninfo: String, authenticator: TokenAuthenticator, logger: Logger) {
        self.conninfo = conninfo
        self.authenticator = authenticator
        self.logger = logger
    }

    public func run() async throws {
        var failures = 0
        while !Task.isCancelledOrShuttingDown {
            let feed = TokenRevocationFeed(conninfo: conninfo)
            do {
                try await feed.connect()
                failures = 0
                authenticator.setCacheEnabled(true)
                logger.debug("token revocation listener connected")
                var lastPing = ContinuousClock.now
                while !Task.isCancelledOrShuttingDown {
                    for tokenID in try await feed.next(timeout: .milliseconds(250)) {
                        authenticator.revoked(tokenID: tokenID)
                    }
                    // A connection can die silently (a dropped NAT entry, a failover): ask it a
                    // question now and then, so a dead feed switches the cache off within a second.
                    if ContinuousClock.now - lastPing >= .milliseconds(500) {
                        try await feed.ping(timeout: .milliseconds(500))
                        lastPing = ContinuousClock.now
                    }
                }
            } catch {
                authenticator.setCacheEnabled(false)
                failures += 1
                logger.warning("token revocation listener disconnected; token cache off", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(min(5_000, 100 << min(failures, 6))))
            }
            await feed.close()
        }
        authenticator.setCacheEnabled(false)
    }
}

extension Task where Success == Never, Failure == Never {
    static var isCancelledOrShuttingDown: Bool {
        Task.isCancelled || Task.isShuttingDownGracefully
    }
}
