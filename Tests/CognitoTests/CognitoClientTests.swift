import Cognito
import Curl
import Foundation
import HTTPTypes
import Synchronization
import TestSupport
import Testing

/// Against moto (the local Cognito that scripts/test starts) and the scripted fault server.
@Suite("Cognito client", .timeLimit(.minutes(5)))
struct CognitoClientTests {
    static var motoEndpoint: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["AWS_ENDPOINT_URL"], !url.isEmpty else {
                throw CognitoError.configuration("AWS_ENDPOINT_URL is not set: run the tests through scripts/test, which starts moto")
            }
            return url
        }
    }

    static let testCredentials = EnvironmentCredentials(environment: ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"])

    /// A client for moto with the pacer opened up (moto has no quotas; the pacer has its own test).
    static func moto() throws -> CognitoClient {
        let fast = Dictionary(uniqueKeysWithValues: QuotaCategory.allCases.map { ($0, 10_000.0) })
        return CognitoClient(
            configuration: CognitoConfiguration(region: "us-east-1", endpoint: try motoEndpoint, maxAttempts: 2, rates: fast),
            credentials: testCredentials
        )
    }

    @Test("paging over 250 users, filters and AttributesToGet, against moto")
    func listUsersPaging() async throws {
        let client = try Self.moto()
        let pool = try await client.createUserPool(name: "paging-\(UUID().uuidString.prefix(8))")
        try await client.createNumberedUsers(260, in: pool)
        var pages = 0
        var names = Set<String>()
        for try await page in client.listUsers(poolID: pool) {
            pages += 1
            #expect(page.Users.count <= 60)
            for user in page.Users {
                names.insert(user.Username)
                #expect(user.attribute("sub") != nil)
            }
        }
        #expect(names.count == 260)
        #expect(pages == 5)

        // A read can start at the token a page gave (a resumed read): the rest of the pool, none twice.
        var firstRead = client.listUsers(poolID: pool).makeAsyncIterator()
        let fetched = try await firstRead.next()
        let firstPage = try #require(fetched)
        let token = try #require(firstRead.token)
        #expect(firstPage.nextPageToken == token)
        var rest: [String] = []
        for try await page in client.listUsers(poolID: pool, startingAt: token) { rest += page.Users.map(\.Username) }
        #expect(rest.count == 200 && Set(rest).count == 200 && Set(rest).isDisjoint(with: firstPage.Users.map(\.Username)))
        // A token Cognito does not know is refused on the first call, and said to be the token's fault.
        do {
            var refused = client.listUsers(poolID: pool, startingAt: "not-a-token").makeAsyncIterator()
            _ = try await refused.next()
            Issue.record("a made-up pagination token was taken")
        } catch let error as CognitoError {
            #expect(error.rejectsPaginationToken, "\(error)")
        }
        var filtered: [UserType] = []
        for try await page in client.listUsers(poolID: pool, filter: "email = \"user42@example.com\"") { filtered += page.Users }
        #expect(filtered.map(\.Username) == ["user42"])
        var slim: [UserType] = []
        for try await page in client.listUsers(poolID: pool, filter: "username = \"user7\"", attributesToGet: ["email"]) {
            slim += page.Users
        }
        #expect(slim.first?.attribute("email") == "user7@example.com")
        #expect(slim.first?.attribute("sub") == nil)
    }

    @Test("AdminInitiateAuth: success, wrong password, disabled user, unknown user; typed errors")
    func authentication() async throws {
        let client = try Self.moto()
        let pool = try await client.createUserPool(name: "auth-\(UUID().uuidString.prefix(8))")
        let app = try await client.createUserPoolClient(poolID: pool, name: "stableid")
        _ = try await client.adminCreateUser(poolID: pool, username: "alice", attributes: [AttributeType("email", "alice@example.com")])
        try await client.adminSetUserPassword(poolID: pool, username: "alice", password: "Correct-Horse-1", permanent: true)
        let ok = try await client.adminInitiateAuth(poolID: pool, clientID: app, username: "alice", password: "Correct-Horse-1")
        #expect(ok.AuthenticationResult?.IdToken?.split(separator: ".").count == 3)

        do {
            _ = try await client.adminInitiateAuth(poolID: pool, clientID: app, username: "alice", password: "Wrong-Password-9")
            Issue.record("wrong password authenticated")
        } catch let error as CognitoError {
            #expect(error.type == .notAuthorized)
            #expect(!"\(error)".contains("Wrong-Password-9"))
        }
        await #expect {
            try await client.adminInitiateAuth(poolID: pool, clientID: app, username: "nobody", password: "Whatever-1")
        } throws: { error in
            [.userNotFound, .notAuthorized].contains((error as? CognitoError)?.type)
        }
        try await client.adminDisableUser(poolID: pool, username: "alice")
        await #expect {
            try await client.adminInitiateAuth(poolID: pool, clientID: app, username: "alice", password: "Correct-Horse-1")
        } throws: { error in
            (error as? CognitoError)?.type == .notAuthorized
        }
        try await client.adminEnableUser(poolID: pool, username: "alice")
        try await client.adminUpdateUserAttributes(
            poolID: pool, username: "alice", attributes: [AttributeType("email", "alice@new.example.com")])
        #expect(try await client.adminGetUser(poolID: pool, username: "alice").attribute("email") == "alice@new.example.com")
        try await client.adminDeleteUser(poolID: pool, username: "alice")
        await #expect { try await client.adminGetUser(poolID: pool, username: "alice") } throws: { error in
            (error as? CognitoError)?.type == .userNotFound
        }
        await #expect { try await client.describeUserPool(poolID: "us-east-1_doesNotExist") } throws: { error in
            (error as? CognitoError)?.type == .resourceNotFound
        }
        #expect(try await client.describeUserPool(poolID: pool).Id == pool)
    }

    @Test("GetCSVHeader against moto fails as moto does (500), typed, after bounded retries")
    func csvHeaderOnMoto() async throws {
        let client = try Self.moto()
        let pool = try await client.createUserPool(name: "csv-\(UUID().uuidString.prefix(8))")
        await #expect { try await client.getCSVHeader(poolID: pool) } throws: { error in
            guard case .service(_, _, let status)? = error as? CognitoError else { return false }
            return status == 500
        }
    }

    @Test("retries throttling and 5xx with backoff, then succeeds")
    func retries() async throws {
        let server = ScriptedServer([
            "/": [
                .init(status: .badRequest, body: #"{"__type":"TooManyRequestsException","message":"Rate exceeded"}"#),
                .init(status: .internalServerError, body: #"{"__type":"InternalErrorException","message":"oops"}"#),
                .init(status: .ok, body: #"{"Users":[{"Username":"u1","Attributes":[{"Name":"sub","Value":"s1"}]}]}"#),
            ]
        ])
        let pages = try await server.run { base in
            let client = CognitoClient(
                configuration: CognitoConfiguration(region: "us-east-1", endpoint: base + "/", backoffBase: .milliseconds(10)),
                credentials: Self.testCredentials
            )
            var pages: [ListUsersPage] = []
            for try await page in client.listUsers(poolID: "us-east-1_X") { pages.append(page) }
            return pages.count
        }
        #expect(pages == 1)
        #expect(server.count(path: "/") == 3)
        let first = try #require(server.requests.withLock { $0.first })
        #expect(first.headers["x-amz-target"] == "AWSCognitoIdentityProviderService.ListUsers")
        #expect(first.headers["authorization"]?.hasPrefix("AWS4-HMAC-SHA256 Credential=testing/") == true)
        #expect(first.headers["content-type"] == "application/x-amz-json-1.1")
    }

    @Test("a slow answer times out and is retried; a caller's deadline bounds everything")
    func timeoutsAndDeadline() async throws {
        let server = ScriptedServer([
            "/slow-then-ok/": [
                .init(status: .ok, body: "{}", delay: .seconds(2)),
                .init(status: .ok, body: #"{"Username":"u","UserAttributes":[]}"#),
            ],
            "/always-failing/": [.init(status: .serviceUnavailable, body: #"{"__type":"InternalErrorException"}"#)],
            "/invalid/": [.init(status: .badRequest, body: #"{"__type":"com.amazon#InvalidParameterException","message":"bad"}"#)],
        ])
        try await server.run { base in
            // The timeout leaves the quick second answer a full second: under a loaded machine
            // (the whole suite runs in parallel) 300 ms was sometimes too little, and the retry
            // itself timed out.
            let slow = CognitoClient(
                configuration: CognitoConfiguration(
                    region: "us-east-1", endpoint: base + "/slow-then-ok/", timeout: .seconds(1), backoffBase: .milliseconds(10)),
                credentials: Self.testCredentials
            )
            let user = try await slow.adminGetUser(poolID: "us-east-1_X", username: "u")
            #expect(user.Username == "u")

            let failing = CognitoClient(
                configuration: CognitoConfiguration(
                    region: "us-east-1", endpoint: base + "/always-failing/", maxAttempts: 100, backoffBase: .milliseconds(50)),
                credentials: Self.testCredentials
            )
            let started = ContinuousClock.now
            await #expect(throws: CognitoError.self) {
                try await failing.adminGetUser(poolID: "us-east-1_X", username: "u", deadline: .now + .milliseconds(700))
            }
            // Without the deadline, 100 attempts at up to 5 s of backoff each take minutes; the
            // bound leaves a loaded two-core machine room (a full-suite run took 2.6 s here).
            #expect(ContinuousClock.now - started < .seconds(5))

            let invalid = CognitoClient(
                configuration: CognitoConfiguration(region: "us-east-1", endpoint: base + "/invalid/"), credentials: Self.testCredentials
            )
            await #expect(throws: CognitoError.service(.invalidParameter, message: "bad", status: 400)) {
                try await invalid.adminGetUser(poolID: "us-east-1_X", username: "u")
            }
        }
        #expect(server.count(path: "/slow-then-ok/") == 2)
        #expect(server.count(path: "/invalid/") == 1)  // not retryable: one attempt
    }

    @Test("a password check is one attempt at the source: never retried after a 5xx or a timeout, only after throttling")
    func passwordCheckIsNeverRetriedOnceSent() async throws {
        let server = ScriptedServer([
            "/5xx/": [.init(status: .internalServerError, body: #"{"__type":"InternalErrorException","message":"oops"}"#)],
            "/slow/": [.init(status: .ok, body: "{}", delay: .seconds(3))],
            "/throttled-then-ok/": [
                .init(status: .badRequest, body: #"{"__type":"TooManyRequestsException","message":"Rate exceeded"}"#),
                .init(status: .ok, body: #"{"ChallengeName":"SMS_MFA","Session":"s"}"#),
            ],
        ])
        try await server.run { base in
            // Only the slow path must time out; the others get all the time a loaded machine needs.
            func client(_ path: String) -> CognitoClient {
                CognitoClient(
                    configuration: CognitoConfiguration(
                        region: "us-east-1", endpoint: base + path, timeout: path == "/slow/" ? .seconds(1) : .seconds(20), maxAttempts: 5,
                        backoffBase: .milliseconds(10)),
                    credentials: Self.testCredentials
                )
            }
            for path in ["/5xx/", "/slow/"] {
                await #expect(throws: CognitoError.self) {
                    try await client(path).adminInitiateAuth(poolID: "us-east-1_X", clientID: "c", username: "u", password: "p")
                }
            }
            let answer = try await client("/throttled-then-ok/").adminInitiateAuth(
                poolID: "us-east-1_X", clientID: "c", username: "u", password: "p")
            #expect(answer.ChallengeName == "SMS_MFA" && answer.AuthenticationResult == nil)
            // The same 5xx on a read is retried.
            await #expect(throws: CognitoError.self) { try await client("/5xx/").adminGetUser(poolID: "us-east-1_X", username: "u") }
        }
        #expect(server.count(path: "/slow/") == 1)
        #expect(server.count(path: "/throttled-then-ok/") == 2)
        #expect(server.count(path: "/5xx/") == 1 + 5)
    }

    @Test("the pacer holds a configured rate")
    func pacer() async throws {
        let pacer = RatePacer(rates: [.userRead: 20])
        let started = ContinuousClock.now
        for _ in 0..<11 { try await pacer.wait(for: .userRead) }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(490))  // 10 intervals of 50 ms after the first call
        #expect(RatePacer.rates(from: "UserList=10, UserCreation=2.5") == [.userList: 10, .userCreation: 2.5])
        #expect(RatePacer.rates(from: "Nope=1") == nil)
        #expect(RatePacer.rates(from: "UserList=0") == nil)
    }

    @Test("with a deadline the pacer refuses a slot that would come too late, and reserves nothing for it")
    func pacerDeadline() async throws {
        let pacer = RatePacer(rates: [.userAuthentication: 1])  // one call a second
        #expect(try await pacer.wait(for: .userAuthentication, deadline: .now + .seconds(5)))
        // The next slot is a second away: a deadline 100 ms out refuses at once…
        #expect(try await pacer.wait(for: .userAuthentication, deadline: .now + .milliseconds(100)) == false)
        // …and took no slot: the next caller's slot is still about a second away (accepted with a
        // 1.5 s deadline), not two seconds (which a reserved slot would have made it).
        #expect(try await pacer.wait(for: .userAuthentication, deadline: .now + .milliseconds(1_500)))
    }

    /// Credentials that take their time, like an STS endpoint under load.
    struct SlowCredentials: CredentialsProvider {
        func credentials() async throws -> AWSCredentials {
            try await Task.sleep(for: .seconds(30))
            return try await CognitoClientTests.testCredentials.credentials()
        }
    }

    @Test("a slow credentials fetch does not outlive the call's deadline")
    func credentialsDeadline() async throws {
        let client = CognitoClient(
            configuration: CognitoConfiguration(region: "us-east-1", endpoint: "http://127.0.0.1:1/", maxAttempts: 1),
            credentials: SlowCredentials()
        )
        await #expect {
            _ = try await client.adminGetUser(poolID: "us-east-1_X", username: "u", deadline: .now + .milliseconds(200))
        } throws: { error in
            if case CognitoError.deadlineExceeded = error { return true }
            return false
        }
    }
}
