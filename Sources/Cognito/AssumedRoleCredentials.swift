public import Curl
import Synchronization

/// Credentials of an IAM role assumed with STS, for reading a user pool in another AWS account.
///
/// The base credentials (usually the default chain) sign the `AssumeRole` call; the answer is
/// kept until five minutes before it expires, and concurrent callers share one refresh. A refusal
/// by STS (no trust, wrong external ID, unknown role) is the operator's to fix and surfaces as
/// `CredentialsError.invalid`, which the Cognito client does not retry; throttling, 5xx and
/// transport failures surface as `STSError` and are retried like any transport failure.
public final class AssumedRoleCredentials: CredentialsProvider {
    public let roleARN: String
    public let sessionName: String
    let externalID: String?
    let duration: Duration
    let client: STSClient

    private struct State {
        var cached: AWSCredentials?
        var refresh: Task<AWSCredentials, any Error>?
    }

    private enum Next: Sendable {
        case ready(AWSCredentials)
        case wait(Task<AWSCredentials, any Error>)
    }

    private let state = Mutex(State())

    /// - Parameters:
    ///   - client: an STS client signing with the base credentials.
    ///   - externalID: the `sts:ExternalId` the role's trust policy requires, if any.
    ///   - duration: the session length asked for, 15 minutes to the role's maximum (1 hour by default).
    public init(client: STSClient, roleARN: String, sessionName: String, externalID: String? = nil, duration: Duration = .seconds(3600)) {
        self.client = client
        self.roleARN = roleARN
        self.sessionName = sessionName
        self.externalID = externalID
        self.duration = duration
    }

    /// A provider that calls STS in `region` (at `endpoint` if given) with `base` credentials.
    public convenience init(
        base: any CredentialsProvider,
        roleARN: String,
        sessionName: String,
        externalID: String? = nil,
        duration: Duration = .seconds(3600),
        region: String,
        endpoint: String? = nil,
        http: CurlClient = CurlClient()
    ) {
        self.init(
            client: STSClient(configuration: STSConfiguration(region: region, endpoint: endpoint), credentials: base, http: http),
            roleARN: roleARN, sessionName: sessionName, externalID: externalID, duration: duration
        )
    }

    public func credentials() async throws -> AWSCredentials {
        let next: Next = state.withLock { state in
            if let current = state.cached, !DefaultCredentialsChain.needsRefresh(current) { return .ready(current) }
            if let running = state.refresh { return .wait(running) }
            // Started under the lock, so its own update of the state below runs after this one.
            let task = Task { try await self.assumeRole() }
            state.refresh = task
            return .wait(task)
        }
        switch next {
        case .ready(let credentials): return credentials
        case .wait(let task): return try await task.value
        }
    }

    private func assumeRole() async throws -> AWSCredentials {
        do {
            let fresh = try await client.assumeRole(roleARN: roleARN, sessionName: sessionName, externalID: externalID, duration: duration)
            state.withLock { state in
                state.cached = fresh
                state.refresh = nil
            }
            return fresh
        } catch {
            state.withLock { $0.refresh = nil }
            throw Self.classify(error, roleARN: roleARN)
        }
    }

    /// STS refusals (4xx other than throttling) and impossible requests become
    /// `CredentialsError.invalid`; everything else passes through unchanged.
    static func classify(_ error: any Error, roleARN: String) -> any Error {
        guard let stsError = error as? STSError, !stsError.isRetryable else { return error }
        switch stsError {
        case .service, .invalidRequest, .malformedResponse:
            return CredentialsError.invalid(source: "assume-role:\(roleARN)", reason: "\(stsError)")
        case .transport:
            return stsError
        }
    }
}
