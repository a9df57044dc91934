import Curl
import Foundation
import HTTPTypes
import Synchronization
import Testing

@testable import Cognito

/// STS AssumeRole: against moto (which answers without checking signatures or trust policies,
/// but keeps accounts apart), against the scripted server for refusals and expiry, and the XML
/// reader on fixed documents.
@Suite("STS AssumeRole", .timeLimit(.minutes(5)))
struct AssumeRoleTests {
    static let roleARN = "arn:aws:iam::123456789012:role/stableid-reader"

    static func motoSTS() throws -> STSClient {
        STSClient(
            configuration: STSConfiguration(region: "us-east-1", endpoint: try CognitoClientTests.motoEndpoint),
            credentials: CognitoClientTests.testCredentials
        )
    }

    /// An `AssumeRoleResponse` whose credentials expire `seconds` from now.
    static func document(expiresIn seconds: TimeInterval, key: String = "ASIASCRIPTED") -> String {
        let expiration = ISO8601DateFormatter().string(from: Date().addingTimeInterval(seconds))
        return """
            <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>\
            <Credentials><AccessKeyId>\(key)</AccessKeyId><SecretAccessKey>scripted-secret</SecretAccessKey>\
            <SessionToken>scripted-token</SessionToken><Expiration>\(expiration)</Expiration></Credentials>\
            </AssumeRoleResult></AssumeRoleResponse>
            """
    }

    static let deniedMessage =
        "User: arn:aws:iam::123456789012:user/migrator is not authorized to perform: sts:AssumeRole"
        + " on resource: arn:aws:iam::210987654321:role/reader"

    static let accessDenied = """
        <ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <Error>
            <Type>Sender</Type>
            <Code>AccessDenied</Code>
            <Message>\(deniedMessage)</Message>
          </Error>
          <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
        </ErrorResponse>
        """

    // MARK: moto

    @Test("AssumeRole against moto returns temporary credentials for the role")
    func assumeRoleOnMoto() async throws {
        let credentials = try await Self.motoSTS().assumeRole(
            roleARN: Self.roleARN, sessionName: "stableid-test", externalID: "ext-42", duration: .seconds(900))
        #expect(credentials.accessKeyID.hasPrefix("ASIA"))
        #expect(!credentials.secretAccessKey.isEmpty)
        #expect(credentials.sessionToken?.isEmpty == false)
        let expiration = try #require(credentials.expiration)
        #expect(expiration > Date().addingTimeInterval(600) && expiration < Date().addingTimeInterval(1200))
        #expect(credentials.source == "assume-role:\(Self.roleARN)")
        #expect(!"\(credentials)".contains(credentials.secretAccessKey))
    }

    @Test("the provider caches the assumed credentials, and concurrent first callers share one AssumeRole")
    func providerCaches() async throws {
        let endpoint = try CognitoClientTests.motoEndpoint
        let provider = AssumedRoleCredentials(
            base: CognitoClientTests.testCredentials, roleARN: Self.roleARN, sessionName: "stableid-cache", region: "us-east-1",
            endpoint: endpoint
        )
        // moto hands out a new key for every AssumeRole, so equal keys mean one call.
        let firstWave = try await withThrowingTaskGroup(of: AWSCredentials.self) { group in
            for _ in 0..<8 { group.addTask { try await provider.credentials() } }
            var all: [AWSCredentials] = []
            for try await credentials in group { all.append(credentials) }
            return all
        }
        let first = try #require(firstWave.first)
        #expect(firstWave.allSatisfy { $0 == first })
        #expect(try await provider.credentials() == first)

        let other = AssumedRoleCredentials(
            base: CognitoClientTests.testCredentials, roleARN: Self.roleARN, sessionName: "stableid-cache", region: "us-east-1",
            endpoint: endpoint
        )
        #expect(try await other.credentials().accessKeyID != first.accessKeyID)
    }

    @Test("a Cognito client signing with a role of another account sees that account's pools (moto keeps accounts apart)")
    func crossAccountOnMoto() async throws {
        let endpoint = try CognitoClientTests.motoEndpoint
        let role = AssumedRoleCredentials(
            base: CognitoClientTests.testCredentials, roleARN: "arn:aws:iam::210987654321:role/stableid-reader",
            sessionName: "stableid-cross", region: "us-east-1", endpoint: endpoint
        )
        let fast = Dictionary(uniqueKeysWithValues: QuotaCategory.allCases.map { ($0, 10_000.0) })
        let configuration = CognitoConfiguration(region: "us-east-1", endpoint: endpoint, maxAttempts: 2, rates: fast)
        let asRole = CognitoClient(configuration: configuration, credentials: role)
        let asBase = CognitoClient(configuration: configuration, credentials: CognitoClientTests.testCredentials)
        let pool = try await asRole.createUserPool(name: "cross-\(UUID().uuidString.prefix(8))")
        #expect(try await asRole.describeUserPool(poolID: pool).Id == pool)
        await #expect { try await asBase.describeUserPool(poolID: pool) } throws: { error in
            (error as? CognitoError)?.type == .resourceNotFound
        }
    }

    // MARK: Scripted STS

    @Test("the request: form body to the endpoint, signed for sts in the region")
    func requestShape() async throws {
        let server = ScriptedServer(["/": [.init(status: .ok, body: Self.document(expiresIn: 3600))]])
        let key = try await server.run { base in
            let sts = STSClient(
                configuration: STSConfiguration(region: "eu-west-1", endpoint: base + "/"), credentials: CognitoClientTests.testCredentials)
            return try await sts.assumeRole(roleARN: Self.roleARN, sessionName: "stableid").accessKeyID
        }
        #expect(key == "ASIASCRIPTED")
        let request = try #require(server.requests.withLock { $0.first })
        #expect(request.method == "POST")
        #expect(request.headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8")
        #expect(request.headers["authorization"]?.hasPrefix("AWS4-HMAC-SHA256 Credential=testing/") == true)
        #expect(request.headers["authorization"]?.contains("/eu-west-1/sts/aws4_request") == true)
        #expect(request.headers["x-amz-date"] != nil)
        let form = STSClient.formEncode([("RoleArn", "arn:aws:iam::1:role/a b"), ("X", "ü+=&")])
        #expect(form == "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b&X=%C3%BC%2B%3D%26")
    }

    @Test("credentials within five minutes of expiry are fetched again; later ones are not")
    func refreshBeforeExpiry() async throws {
        let server = ScriptedServer([
            "/short/": [.init(status: .ok, body: Self.document(expiresIn: 120))],
            "/long/": [.init(status: .ok, body: Self.document(expiresIn: 3600))],
        ])
        try await server.run { base in
            for path in ["/short/", "/long/"] {
                let provider = AssumedRoleCredentials(
                    base: CognitoClientTests.testCredentials, roleARN: Self.roleARN, sessionName: "stableid", region: "us-east-1",
                    endpoint: base + path
                )
                _ = try await provider.credentials()
                _ = try await provider.credentials()
                _ = try await provider.credentials()
            }
        }
        #expect(server.count(path: "/short/") == 3)
        #expect(server.count(path: "/long/") == 1)
    }

    @Test("a refusal is a typed STS error, a configuration error from the provider, and never shows a secret")
    func refusal() async throws {
        let server = ScriptedServer([
            "/denied/": [.init(status: .forbidden, body: Self.accessDenied)],
            "/throttled/": [
                .init(
                    status: .badRequest,
                    body: "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"
                )
            ],
            "/broken/": [.init(status: .internalServerError, body: "<!doctype html><title>500 Internal Server Error</title>")],
        ])
        let secretive = EnvironmentCredentials(environment: ["AWS_ACCESS_KEY_ID": "AKIDBASE", "AWS_SECRET_ACCESS_KEY": "base-secret-value"])
        try await server.run { base in
            func sts(_ path: String) -> STSClient {
                STSClient(configuration: STSConfiguration(region: "us-east-1", endpoint: base + path), credentials: secretive)
            }
            let denied = sts("/denied/")
            await #expect { try await denied.assumeRole(roleARN: Self.roleARN, sessionName: "stableid") } throws: { error in
                guard let error = error as? STSError, case .service(let code, let message, let status) = error else { return false }
                return code == "AccessDenied" && status == 403 && message == Self.deniedMessage
                    && !error.isRetryable && !"\(error)".contains("base-secret-value")
            }
            let provider = AssumedRoleCredentials(client: denied, roleARN: Self.roleARN, sessionName: "stableid")
            for _ in 0..<2 {
                await #expect { try await provider.credentials() } throws: { error in
                    guard case .invalid(let source, let reason)? = error as? CredentialsError else { return false }
                    return source == "assume-role:\(Self.roleARN)" && reason.contains("AccessDenied")
                        && !reason.contains("base-secret-value")
                }
            }

            let throttled = AssumedRoleCredentials(
                client: sts("/throttled/"),
                roleARN: Self.roleARN, sessionName: "stableid"
            )
            await #expect { try await throttled.credentials() } throws: { error in
                guard let error = error as? STSError, case .service(let code, _, let status) = error else { return false }
                return code == "Throttling" && status == 400 && error.isRetryable
            }

            let broken = sts("/broken/")
            await #expect { try await broken.assumeRole(roleARN: Self.roleARN, sessionName: "stableid") } throws: { error in
                (error as? STSError) == STSError.service(code: "InternalFailure", message: "HTTP 500", status: 500)
            }
        }
        // One call from the client, then one per provider call: a refusal is not cached.
        #expect(server.count(path: "/denied/") == 3)
    }

    @Test("durations and session names STS would reject are refused before sending")
    func localValidation() async throws {
        let sts = STSClient(
            configuration: STSConfiguration(region: "us-east-1", endpoint: "http://127.0.0.1:1/"),
            credentials: CognitoClientTests.testCredentials
        )
        let refused: [(Duration, String)] = [
            (.seconds(60), "stableid"), (.seconds(43_201), "stableid"), (.seconds(900), "a b"), (.seconds(900), "x"),
        ]
        for (duration, session) in refused {
            await #expect {
                try await sts.assumeRole(roleARN: Self.roleARN, sessionName: session, duration: duration)
            } throws: { error in
                guard case .invalidRequest? = error as? STSError else { return false }
                return true
            }
        }
        #expect(STSClient.isValidSessionName("stableid+migration=1,eu.west@acme_2-b"))
    }

    @Test("endpoint from AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, else the regional one")
    func configuration() {
        #expect(STSConfiguration(region: "eu-west-1").endpoint == "https://sts.eu-west-1.amazonaws.com/")
        #expect(STSConfiguration(region: "cn-north-1").endpoint == "https://sts.cn-north-1.amazonaws.com.cn/")
        #expect(STSConfiguration.fromEnvironment([:], region: "us-east-1").endpoint == "https://sts.us-east-1.amazonaws.com/")
        let general = ["AWS_ENDPOINT_URL": "http://127.0.0.1:1"]
        #expect(STSConfiguration.fromEnvironment(general, region: "us-east-1").endpoint == "http://127.0.0.1:1")
        let both = ["AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:2"]
        #expect(STSConfiguration.fromEnvironment(both, region: "us-east-1").endpoint == "http://127.0.0.1:2")
    }

    // MARK: XML reader

    @Test("the XML reader: a success document, entities, look-alike tags and the two timestamp spellings")
    func xmlSuccess() throws {
        let document = """
            <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
              <AssumeRoleResult>
                <SourceIdentity>migrator</SourceIdentity>
                <AssumedRoleUser>
                  <Arn>arn:aws:sts::123456789012:assumed-role/reader/stableid</Arn>
                  <AssumedRoleId>ARO123EXAMPLE123:stableid</AssumedRoleId>
                </AssumedRoleUser>
                <Credentials>
                  <AccessKeyIdentifier>decoy</AccessKeyIdentifier>
                  <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
                  <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
                  <SessionToken>
                   AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j&amp;LWsKWHGBuFqwAeMicRXmxfpSPfIe
                  </SessionToken>
                  <Expiration>2026-11-27T11:00:00Z</Expiration>
                </Credentials>
                <PackedPolicySize>6</PackedPolicySize>
              </AssumeRoleResult>
              <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
            </AssumeRoleResponse>
            """
        let credentials = try #require(STSXML.credentials(in: document, source: "assume-role:test"))
        #expect(credentials.accessKeyID == "ASIAIOSFODNN7EXAMPLE")
        #expect(credentials.secretAccessKey == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY")
        #expect(credentials.sessionToken == "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j&LWsKWHGBuFqwAeMicRXmxfpSPfIe")
        let expiration = try #require(credentials.expiration)
        #expect(abs(expiration.timeIntervalSince1970 - 1_795_777_200) < 0.000_001)
        #expect(credentials.source == "assume-role:test")

        // moto's spelling: microseconds.
        let moto = document.replacingOccurrences(of: "2026-11-27T11:00:00Z", with: "2026-11-27T11:00:00.250000Z")
        let precise = try #require(STSXML.credentials(in: moto, source: "x")?.expiration)
        #expect(abs(precise.timeIntervalSince1970 - 1_795_777_200.25) < 0.000_001)

        let escaped = "a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#65;&#x263A; &nbsp; & done"
        #expect(STSXML.unescape(escaped[...]) == "a <b> & \"c\" 'd' A\u{263A} &nbsp; & done")
        #expect(STSXML.text(of: "Empty", in: "<Root><Empty/><Other>x</Other></Root>") == "")
        #expect(STSXML.text(of: "Tagged", in: "<Tagged attr=\"1\">value</Tagged>") == "value")
    }

    @Test("the XML reader: error documents, incomplete and foreign answers")
    func xmlErrors() {
        let error = STSXML.error(in: Self.accessDenied)
        #expect(error?.code == "AccessDenied")
        #expect(error?.message == Self.deniedMessage)
        #expect(STSXML.credentials(in: Self.accessDenied, source: "x") == nil)
        #expect(STSXML.error(in: "<ErrorResponse><Error><Code>ExpiredToken</Code></Error></ErrorResponse>")?.message == "")

        let complete = Self.document(expiresIn: 3600)
        #expect(STSXML.credentials(in: complete, source: "x") != nil)
        let noToken = complete.replacingOccurrences(of: "<SessionToken>scripted-token</SessionToken>", with: "")
        #expect(STSXML.credentials(in: noToken, source: "x") == nil)
        #expect(STSXML.credentials(in: String(complete.prefix(complete.count - 60)), source: "x") == nil)
        let badTime = complete.replacingOccurrences(
            of: #"<Expiration>[^<]*</Expiration>"#, with: "<Expiration>soon</Expiration>", options: .regularExpression)
        #expect(STSXML.credentials(in: badTime, source: "x") == nil)
        #expect(STSXML.credentials(in: "<!doctype html><title>500 Internal Server Error</title>", source: "x") == nil)
        #expect(STSXML.error(in: "<!doctype html><title>500 Internal Server Error</title>").map { $0.code } == nil)
        #expect(STSXML.error(in: "").map { $0.code } == nil)
    }
}
