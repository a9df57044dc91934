public import Cognito
public import Curl
public import Foundation
public import IdentityMap
import Synchronization

/// One Cognito client per pool, each in the pool's region with the pool's AWS access: the
/// service's own credentials, a named profile, or a role assumed through STS (pools of a
/// campaign may live in other accounts and regions). Built once per pool and kept.
public final class PoolClients: Sendable {
    private let environment: [String: String]
    private let http: CurlClient
    /// Rates a command sets for itself (`stamp --rate`), over `STABLEID_COGNITO_RATES` and the defaults.
    private let rates: [QuotaCategory: Double]
    private let clients = Mutex<[PoolID: CognitoClient]>([:])

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, http: CurlClient = CurlClient(),
        rates: [QuotaCategory: Double] = [:]
    ) {
        self.environment = environment
        self.http = http
        self.rates = rates
    }

    /// Clients sharing `maxConcurrentTransfers` connections: for a command that keeps many calls
    /// in flight (`campaign finalize` at the AdminCreateUser quota, each call ~100 ms away).
    /// `rates` overrides the pacing of the categories it names.
    public convenience init(maxConcurrentTransfers: Int, rates: [QuotaCategory: Double] = [:]) {
        self.init(http: CurlClient(maxConcurrentTransfers: maxConcurrentTransfers), rates: rates)
    }

    /// How `pool` is reached: its region, and the endpoint from the environment (the override, or
    /// Cognito's regional one). Its clients call there; token verification fetches the pool's
    /// keys there (``CognitoConfiguration/jwksURL(poolID:)``).
    public func configuration(for pool: Pool) throws -> CognitoConfiguration {
        try CognitoConfiguration.fromEnvironment(environment(of: pool), region: pool.region)
    }

    public func client(for pool: Pool) throws -> CognitoClient {
        if let client = clients.withLock({ $0[pool.id] }) { return client }
        let environment = self.environment(of: pool)
        var configuration = try CognitoConfiguration.fromEnvironment(environment, region: pool.region)
        configuration.rates.merge(rates) { _, override in override }
        // A named profile means exactly that profile, even when the service has keys of its own in
        // its environment (which the default chain would try first).
        var credentials: any CredentialsProvider =
            pool.access.profile != nil
            ? ProfileCredentials(environment: environment) : DefaultCredentialsChain(environment: environment, http: http)
        if let role = pool.access.roleARN {
            credentials = AssumedRoleCredentials(
                client: STSClient(configuration: .fromEnvironment(environment, region: pool.region), credentials: credentials, http: http),
                roleARN: role, sessionName: "stableid", externalID: pool.access.externalID
            )
        }
        let client = CognitoClient(configuration: configuration, credentials: credentials, http: http)
        return clients.withLock { cache in
            if let existing = cache[pool.id] { return existing }
            cache[pool.id] = client
            return client
        }
    }

    /// The service's environment with the pool's profile, if it names one.
    private func environment(of pool: Pool) -> [String: String] {
        var environment = self.environment
        if let profile = pool.access.profile { environment["AWS_PROFILE"] = profile }
        return environment
    }
}
