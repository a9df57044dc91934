import Cognito
import Foundation
import Hummingbird
import IdentityMap
import LookupCache
import Metrics
import NIOCore
import Support

/// `POST /v1/resolve/token` `{"token": "<JWT>"}`: a Cognito ID or access token, verified against
/// its pool's signing keys, resolved as `GET /v1/resolve` resolves its `(pool, sub)`. Scope
/// `resolve`. A backend that holds a user's token asks this instead of trusting the claims.
///
/// Cheap and certain checks first: the form and the header (RS256, a key id), the issuer among
/// the registered pools (no key is fetched for anyone else's), the key and the signature, then
/// the claims and the sub. Each refusal has its own code (`Problem.from(_: TokenRejection)`); a
/// verified token whose sub is not linked is 404 `not_found`, as the lookup by sub.
struct TokenResolveController {
    /// The lookup after verification: memory, then the coalescer, as `GET /v1/resolve`.
    let resolver: ResolveController
    let bodyReader: RequestBodyReader
    let issuers: TokenIssuers
    let verifier: CognitoTokenVerifier
    /// Tokens verified before, by their text's digest: their signatures are not checked again.
    let memo: VerifiedTokenMemo
    let metrics: TokenVerificationMetrics

    init(
        resolver: ResolveController, bodyReader: RequestBodyReader, verification: TokenVerification, pools: PoolStore,
        metrics factory: any MetricsFactory
    ) {
        self.resolver = resolver
        self.bodyReader = bodyReader
        issuers = TokenIssuers(pools: pools, clients: verification.clients)
        verifier = CognitoTokenVerifier(keys: verification.keys)
        memo = verification.memo
        metrics = TokenVerificationMetrics(factory: factory)
    }

    struct Body: Decodable {
        var token: String
    }

    /// The token of a body that is exactly `{"token": "…"}` (the form every client sends), read in
    /// place by Support's JSONScanner; nil for anything else, which the general decoder then reads
    /// (and refuses with a message naming the field when it must). Foundation's decoder was a
    /// twentieth of a token lookup's cost.
    static func token(in body: ByteBuffer) -> String? {
        body.withUnsafeReadableBytes { bytes in
            var scanner = JSONScanner(bytes)
            guard scanner.consume(UInt8(ascii: "{")), let key = try? scanner.nextKey(first: true), key == "token",
                scanner.skipWhitespace() == UInt8(ascii: "\""), let token = try? scanner.readString(),
                scanner.consume(UInt8(ascii: "}")), scanner.skipWhitespace() == nil
            else { return nil }
            return token
        }
    }

    func register(on group: RouterGroup<AppRequestContext>) {
        group.post("resolve/token", use: resolve)
    }

    @Sendable func resolve(request: Request, context: AppRequestContext) async throws -> Response {
        let collected = try await bodyReader.collect(request)
        let text = try Self.token(in: collected) ?? bodyReader.decode(Body.self, from: collected).token
        let token: VerifiedToken
        do {
            token = try await verify(text)
        } catch let rejection as TokenRejection {
            metrics.count(rejection.reason)
            throw rejection
        }
        metrics.count(TokenVerificationMetrics.verified)
        // A pool id read back from `pools` (where a CHECK keeps its shape).
        guard let pool = PoolID(token.poolID) else { throw Problem.internalError }
        let reference = IdentityReference.pool(pool, sub: token.subject)
        let answer = try await resolver.lookUp(
            reference,
            fromMemory: { (stored: StoredAnswer) -> [UInt8] in
                var writer = JSONWriter()
                writer.answer(stored, token: token)
                return writer.bytes
            },
            fromDatabase: { (resolution: Resolution) -> [UInt8] in
                var writer = JSONWriter()
                writer.resolution(resolution, token: token)
                return writer.bytes
            }
        )
        guard let answer else { throw Problem.notFound("no user has this identity") }
        return ResolveController.jsonResponse(answer)
    }

    /// The token, checked: its `subject` the canonical sub. Throws a `TokenRejection` for a token
    /// that fails a check, anything else for a failure to check it (the pools could not be read).
    func verify(_ text: String) async throws -> VerifiedToken {
        let digest = VerifiedTokenMemo.Digest(text)
        let now = Date()
        if let remembered = memo.entry(digest), let iss = remembered.claims.issuer, let issuer = try await issuers.issuer(iss),
            var verified = try await verifier.recheck(remembered, issuer: issuer, now: now)
        {
            guard let sub = CognitoSub.canonical(verified.subject) else { throw TokenRejection.malformed }
            verified.subject = sub
            return verified
        }
        let token = try CognitoToken(parsing: text)
        guard let iss = token.claims.issuer, let issuer = try await issuers.issuer(iss) else { throw TokenRejection.issuerUnknown }
        var (verified, key) = try await verifier.verifySigned(token, issuer: issuer, now: now)
        // Signed by the pool, yet not a Cognito sub: no lookup could find it.
        guard let sub = CognitoSub.canonical(verified.subject) else { throw TokenRejection.malformed }
        verified.subject = sub
        memo.remember(digest, keyID: token.keyID, claims: token.claims, key: key, now: Int64(now.timeIntervalSince1970))
        return verified
    }
}
