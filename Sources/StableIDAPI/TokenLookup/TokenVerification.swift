public import Cognito
public import CognitoIngest

/// How `POST /v1/resolve/token` reaches the pools' signing keys: `clients` says where each pool's
/// Cognito endpoint is (the JWKS is at `<endpoint>/<pool id>/.well-known/jwks.json`), `keys` keeps
/// the fetched sets. One per server, shared by every request. Tests give their own, to serve keys
/// of their own or to watch the fetches.
public struct TokenVerification: Sendable {
    public let clients: PoolClients
    public let keys: JWKSCache
    /// Tokens verified before (``VerifiedTokenMemo``).
    public let memo: VerifiedTokenMemo

    public init(clients: PoolClients = PoolClients(), keys: JWKSCache = JWKSCache(), memo: VerifiedTokenMemo = VerifiedTokenMemo()) {
        self.clients = clients
        self.keys = keys
        self.memo = memo
    }
}
