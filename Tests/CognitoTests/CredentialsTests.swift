import Cognito
import Curl
import Foundation
import HTTPTypes
import Synchronization
import TestSupport
import Testing

@Suite("AWS credentials", .timeLimit(.minutes(3)))
struct CredentialsTests {
    @Test("environment variables, with and without a session token")
    func environment() async throws {
        let plain = try await EnvironmentCredentials(environment: ["AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"]).credentials()
        #expect(plain.accessKeyID == "AK" && plain.sessionToken == nil && plain.source == "environment")
        let session = try await EnvironmentCredentials(environment: [
            "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "ST",
        ]).credentials()
        #expect(session.sessionToken == "ST")
        await #expect(throws: CredentialsError.self) { try await EnvironmentCredentials(environment: [:]).credentials() }
    }

    @Test("shared credentials and config files with AWS_PROFILE, and the profile's region")
    func profiles() async throws {
        try await withTemporaryDirectory("aws") { dir in
            try """
            [default]
            aws_access_key_id = DEFAULTKEY
            aws_secret_access_key = defaultsecret
            # a comment
            [migration]
            aws_access_key_id=MIGRATIONKEY
            aws_secret_access_key=migrationsecret
            aws_session_token=migrationtoken
            """.write(to: dir.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
            try """
            [default]
            region = eu-west-1
            [profile migration]
            region = ap-southeast-2
            """.write(to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
            let base = [
                "AWS_SHARED_CREDENTIALS_FILE": dir.appendingPathComponent("credentials").path,
                "AWS_CONFIG_FILE": dir.appendingPathComponent("config").path,
            ]
            let defaults = ProfileCredentials(environment: base)
            #expect(try await defaults.credentials().accessKeyID == "DEFAULTKEY")
            #expect(defaults.region() == "eu-west-1")
            let named = ProfileCredentials(environment: base.merging(["AWS_PROFILE": "migration"]) { $1 })
            let credentials = try await named.credentials()
            #expect(
                credentials.accessKeyID == "MIGRATIONKEY" && credentials.sessionToken == "migrationtoken"
                    && credentials.source == "profile:migration")
            #expect(named.region() == "ap-southeast-2")
            await #expect(throws: CredentialsError.self) {
                try await ProfileCredentials(environment: base.merging(["AWS_PROFILE": "missing"]) { $1 }).credentials()
            }
            let configuration = try CognitoConfiguration.fromEnvironment(base.merging(["AWS_PROFILE": "migration"]) { $1 })
            #expect(configuration.region == "ap-southeast-2")
            #expect(configuration.endpoint == "https://cognito-idp.ap-southeast-2.amazonaws.com/")
            let overridden = try CognitoConfiguration.fromEnvironment(
                [
                    "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                    "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": "http://127.0.0.1:2",
                ]
            )
            #expect(overridden.endpoint == "http://127.0.0.1:2")
        }
    }

    @Test("container credentials (full URI + authorization token) and IMDSv2 (session token first), from local endpoints")
    func containerAndInstanceMetadata() async throws {
        let expires = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
        let document = #"{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"s","Token":"t","Expiration":"\#(expires)"}"#
        let server = ScriptedServer([
            "/creds": [.init(status: .ok, body: document)],
            "/latest/api/token": [.init(status: .ok, body: "imds-session-token")],
            "/latest/meta-data/iam/security-credentials/": [.init(status: .ok, body: "stableid-role\n")],
            "/latest/meta-data/iam/security-credentials/stableid-role": [
                .init(status: .ok, body: document.replacingOccurrences(of: "ASIACONTAINER", with: "ASIAINSTANCE"))
            ],
        ])
        try await server.run { base in
            let http = CurlClient()
            let container = try await ContainerCredentials(
                environment: [
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/creds", "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer container-auth",
                ], http: http
            ).credentials()
            #expect(container.accessKeyID == "ASIACONTAINER" && container.sessionToken == "t")
            #expect(container.expiration != nil)
            let instance = try await InstanceMetadataCredentials(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": base], http: http)
                .credentials()
            #expect(instance.accessKeyID == "ASIAINSTANCE" && instance.source == "instance-metadata")
            await #expect(throws: CredentialsError.self) {
                try await InstanceMetadataCredentials(environment: ["AWS_EC2_METADATA_DISABLED": "true"], http: http).credentials()
            }
            // The chain takes the first source that has credentials.
            let chain = DefaultCredentialsChain(
                environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": base + "/creds", "HOME": "/nonexistent"], http: http)
            #expect(try await chain.credentials().source == "container")
        }
        let requests = server.requests.withLock { $0 }
        #expect(requests.first { $0.path == "/creds" }?.headers["authorization"] == "Bearer container-auth")
        #expect(requests.first { $0.path == "/latest/api/token" }?.method == "PUT")
        #expect(requests.first { $0.path.hasSuffix("stableid-role") }?.headers["x-aws-ec2-metadata-token"] == "imds-session-token")
    }
}
