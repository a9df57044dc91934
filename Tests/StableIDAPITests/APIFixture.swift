import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IdentityMap
import Logging
import NIOCore
import StableIDAPI
import TestSupport

/// A migrated database, registered pools, one token per scope, and the application over them.
struct APIFixture {
    let db: TestDatabase
    let tokens: [Scope: String]
    let revokedToken: String
    let configuration: APIConfiguration
    let old = "us-east-1_Old"
    let new = "eu-west-1_New"

    static func make(maxBodyBytes: Int = 64 * 1024, maxConnections: Int = 8) async throws -> APIFixture {
        let db = try await TestDatabase.make(maxConnections: maxConnections)
        let by = Attribution(actor: .system)
        let pools = PoolStore(database: db.database)
        _ = try await pools.add(id: PoolID("us-east-1_Old")!, attribution: by).run(on: db.database)
        _ = try await pools.add(id: PoolID("eu-west-1_New")!, attribution: by).run(on: db.database)
        let store = TokenStore(database: db.database)
        var tokens: [Scope: String] = [:]
        for scope in Scope.allCases {
            tokens[scope] = try await store.create(name: "only-\(scope.rawValue)", scopes: [scope], attribution: by).run(on: db.database).1
                .value
        }
        let revoked = try await store.create(name: "revoked", scopes: Set(Scope.allCases), attribution: by).run(on: db.database).1.value
        _ = try await store.revoke(nameOrID: "revoked", attribution: by).run(on: db.database)
        return APIFixture(
            db: db, tokens: tokens, revokedToken: revoked,
            configuration: APIConfiguration(databaseURL: db.url, maxBodyBytes: maxBodyBytes)
        )
    }

    /// `tokenVerification`: where token lookups fetch signing keys (default: each pool's Cognito
    /// endpoint from the environment, moto under scripts/test).
    func app(
        database: Database? = nil, authenticator: TokenAuthenticator? = nil, configuration: APIConfiguration? = nil,
        tokenVerification: TokenVerification? = nil
    ) -> some ApplicationProtocol {
        var logger = Logger(label: "test.api")
        logger.logLevel = .critical
        return buildApplication(
            configuration: configuration ?? self.configuration, database: database ?? db.database, logger: logger,
            authenticator: authenticator, tokenVerification: tokenVerification)
    }

    func test<Value: Sendable>(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        try await app().test(.router, body)
    }
}

/// One HTTP exchange, decoded for assertions.
struct Reply: Sendable {
    var status: Int
    var headers: HTTPFields
    var text: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
    var code: String? { json["code"] as? String }
    var isProblem: Bool { headers[.contentType] == "application/problem+json" && json["status"] as? Int == status }
}

extension TestClientProtocol {
    func call(
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String? = nil,
        json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) }) { response in
            Reply(status: Int(response.status.code), headers: response.headers, text: String(buffer: response.body))
        }
    }
}

extension Reply: CustomStringConvertible {
    var description: String { "\(status) \(text)" }
}
