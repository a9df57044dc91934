// swift-format-ignore-file: AlwaysUseLowerCamelCase

// The Codable models here spell AWS's PascalCase wire names, so they decode without key maps.
import CryptoPrimitives
public import Curl
public import Foundation
public import Logging
import Support

/// How the client reaches Cognito and how hard it tries.
public struct CognitoConfiguration: Sendable {
    public var region: String
    /// `https://cognito-idp.<region>.amazonaws.com/`, or an override (moto in tests).
    public var endpoint: String
    /// Per-attempt timeout.
    public var timeout: Duration
    public var maxAttempts: Int
    /// Full-jitter backoff: attempt n sleeps a random time in [0, min(cap, base × 2ⁿ)).
    public var backoffBase: Duration
    public var backoffCap: Duration
    public var rates: [QuotaCategory: Double]

    public init(
        region: String,
        endpoint: String? = nil,
        timeout: Duration = .seconds(10),
        maxAttempts: Int = 8,
        backoffBase: Duration = .milliseconds(100),
        backoffCap: Duration = .seconds(5),
        rates: [QuotaCategory: Double] = [:]
    ) {
        self.region = region
        self.endpoint = endpoint ?? "https://cognito-idp.\(region).amazonaws.com/"
        self.timeout = timeout
        self.maxAttempts = max(1, maxAttempts)
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.rates = rates
    }

    /// The SDKs' variables: `AWS_REGION` (or `AWS_DEFAULT_REGION`, or the profile's region),
    /// `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`, then `AWS_ENDPOINT_URL`; plus
    /// `STABLEID_COGNITO_RATES` (`UserList=10,…`).
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment,
        region explicitRegion: String? = nil
    ) throws -> CognitoConfiguration {
        let region =
            explicitRegion
            ?? environment["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["AWS_DEFAULT_REGION"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ProfileCredentials(environment: environment).region()
        guard let region else {
            throw CognitoError.configuration("no AWS region: set AWS_REGION (or give a pool id, whose prefix names it)")
        }
        let endpoint =
            environment["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["AWS_ENDPOINT_URL"].flatMap { $0.isEmpty ? nil : $0 }
        var rates: [QuotaCategory: Double] = [:]
        if let text = environment["STABLEID_COGNITO_RATES"], !text.isEmpty {
            guard let parsed = RatePacer.rates(from: text) else {
                throw CognitoError.configuration("STABLEID_COGNITO_RATES must look like UserList=10,UserCreation=20")
            }
            rates = parsed
        }
        return CognitoConfiguration(region: region, endpoint: endpoint, rates: rates)
    }
}

/// Cognito user-pool API client: AWS JSON 1.1 over libcurl, SigV4-signed, paced per quota
/// category, retried with full jitter on throttling, 5xx and connection errors within a deadline.
public final class CognitoClient: Sendable {
    public let configuration: CognitoConfiguration
    let credentials: any CredentialsProvider
    let http: CurlClient
    let pacer: RatePacer
    let logger: Logger
    let signer: SigV4Signer

    public init(
        configuration: CognitoConfiguration,
        credentials: any CredentialsProvider,
        http: CurlClient = CurlClient(),
        logger: Logger = Logger(label: "stableid.cognito")
    ) {
        self.configuration = configuration
        self.credentials = credentials
        self.http = http
        self.pacer = RatePacer(rates: configuration.rates)
        self.logger = logger
        self.signer = SigV4Signer(region: configuration.region, service: "cognito-idp")
    }

    /// A client configured from the environment with the SDKs' credential chain.
    public static func fromEnvironment(region: String? = nil, logger: Logger = Logger(label: "stableid.cognito")) throws -> CognitoClient {
        let http = CurlClient()
        return CognitoClient(
            configuration: try .fromEnvironment(region: region),
            credentials: DefaultCredentialsChain(http: http),
            http: http,
            logger: logger
        )
    }

    struct ErrorBody: Decodable {
        var type: String?
        var message: String?
        var Message: String?
        enum CodingKeys: String, CodingKey {
            case type = "__type"
            case message, Message
        }
    }

    /// Which failures a call tries again.
    public enum RetryPolicy: Sendable {
        /// Throttling, 5xx and transport failures (reads and idempotent writes).
        case whenRetryable
        /// Only failures after which Cognito cannot have acted on the request (throttling, no
        /// connection): a password check is one sign-in attempt at the source, never two.
        case onlyUnprocessed
    }

    /// Calls `operation` (e.g. `ListUsers`) with a JSON body. `deadline` bounds all attempts and
    /// backoff sleeps together; without one, `maxAttempts` does.
    public func call<Output: Decodable & Sendable>(
        _ operation: String,
        _ input: some Encodable,
        category: QuotaCategory,
        deadline: ContinuousClock.Instant? = nil,
        retry: RetryPolicy = .whenRetryable,
        as output: Output.Type = Output.self
    ) async throws -> Output {
        let body = Array(try JSONEncoder().encode(input))
        var attempt = 0
        while true {
            attempt += 1
            guard try await pacer.wait(for: category, deadline: deadline) else {
                throw CognitoError.deadlineExceeded(operation: operation, attempts: attempt - 1)
            }
            do {
                let data = try await send(operation, body: body, deadline: deadline)
                do {
                    return try JSONDecoder().decode(Output.self, from: Data(data.isEmpty ? Array("{}".utf8) : data))
                } catch {
                    throw CognitoError.malformedResponse(operation: operation)
                }
            } catch let error as CognitoError
                where error.isRetryable && attempt < configuration.maxAttempts
                && (retry == .whenRetryable || !error.mayHaveBeenProcessed)
            {
                let ceiling = min(configuration.backoffCap, configuration.backoffBase * (1 << min(attempt - 1, 20)))
                let ceilingNanos = max(1, ceiling.nanoseconds)
                let sleep = Duration.nanoseconds(Int64.random(in: 0..<ceilingNanos))
                if let deadline, ContinuousClock.now + sleep >= deadline {
                    throw CognitoError.deadlineExceeded(operation: operation, attempts: attempt)
                }
                logger.debug(
                    "retrying Cognito call",
                    metadata: [
                        "operation": "\(operation)", "attempt": "\(attempt)", "error": "\(error)", "sleep_ms": "\(sleep.milliseconds)",
                    ]
                )
                try await Task.sleep(for: sleep)
            }
        }
    }

    /// Credentials, within the call's deadline: an STS AssumeRole (or a metadata endpoint) that
    /// is slow to answer must not make a Cognito trigger outlive Cognito's 5 s. This caller gives
    /// up at the deadline (a provider that shares one refresh among callers, as
    /// `AssumedRoleCredentials` does, still completes it for the next one).
    static func fetch(
        _ provider: any CredentialsProvider, before deadline: ContinuousClock.Instant?, operation: String
    ) async throws -> AWSCredentials {
        guard let deadline else { return try await provider.credentials() }
        return try await withThrowingTaskGroup(of: AWSCredentials?.self) { group in
            group.addTask { try await provider.credentials() }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let credentials = first else {
                throw CognitoError.deadlineExceeded(operation: operation, attempts: 0)
            }
            return credentials
        }
    }

    private func send(_ operation: String, body: [UInt8], deadline: ContinuousClock.Instant?) async throws -> [UInt8] {
        let credentials: AWSCredentials
        do {
            credentials = try await Self.fetch(self.credentials, before: deadline, operation: operation)
        } catch let error as CognitoError {
            throw error
        } catch let error as CredentialsError {
            // Nothing configured (or a profile that does not exist) is the operator's to fix;
            // a credentials endpoint that failed is a runtime failure like any other transport.
            switch error {
            case .notFound, .unknownProfile, .invalid: throw CognitoError.configuration("\(error)")
            }
        } catch {
            throw CognitoError.transport(.connect, message: "credentials endpoint: \(error)")
        }
        var timeout = configuration.timeout
        if let deadline {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw CognitoError.deadlineExceeded(operation: operation, attempts: 0) }
            timeout = min(timeout, left)
        }
        guard
            let request = signer.signedPOST(
                to: configuration.endpoint,
                headers: [
                    ("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "AWSCognitoIdentityProviderService.\(operation)"),
                ],
                body: body, credentials: credentials, timeout: timeout
            )
        else {
            throw CognitoError.configuration("the Cognito endpoint \(configuration.endpoint) is not a URL")
        }
        let response: CurlResponse
        do {
            response = try await http.send(request)
        } catch {
            throw CognitoError.transport(error.kind, message: error.message)
        }
        guard (200..<300).contains(response.status) else {
            let parsed = try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body))
            let type =
                parsed?.type ?? response.header("x-amzn-errortype") ?? (response.status >= 500 ? "InternalErrorException" : "UnknownError")
            let message = parsed?.message ?? parsed?.Message ?? "HTTP \(response.status)"
            throw CognitoError.service(
                CognitoErrorType(awsType: type.split(separator: ":").first.map(String.init) ?? type), message: message,
                status: response.status)
        }
        return response.body
    }
}
