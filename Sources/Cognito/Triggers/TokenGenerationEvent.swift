/// A pre token generation event read straight from the request body's bytes, keeping only what
/// answering it from memory needs: the busiest trigger (every sign-in and every token refresh of
/// every user asks it), answered at lookup speed.
///
/// The general path, `CognitoTriggerEvent(data:)` and then `answeringTokenGeneration(stableID:)`,
/// decodes the whole event into a ``TriggerJSON`` tree and writes it back out. Here
/// ``read(_:)`` scans the same bytes once (``TokenEventReader``) and ``answer(_:version:stableID:)``
/// writes the answer from them (``TriggerJSONRewriter``): byte for byte the general path's answer,
/// which the tests compare event by event.
///
/// Both refuse (nil) rather than guess: whatever the general path would reject or might read
/// differently — another trigger, an unknown version, a field of the wrong type, a number, a
/// key twice, a key that is not plain ASCII, `request.password` — goes to the general path, which
/// then answers or fails exactly as it always has.
public struct TokenGenerationEvent: Sendable, Equatable {
    public var source: TokenGenerationRequest.Source
    public var version: TokenGenerationRequest.EventVersion
    /// `userPoolId` as sent (not yet checked to be a pool ID).
    public var userPoolID: String
    /// `userName` as sent (not yet checked against the service's rule for it).
    public var userName: String
    /// `request.userAttributes.sub` as sent (not yet checked to be a Cognito sub).
    public var sub: String

    public init(
        source: TokenGenerationRequest.Source, version: TokenGenerationRequest.EventVersion, userPoolID: String, userName: String,
        sub: String
    ) {
        self.source = source
        self.version = version
        self.userPoolID = userPoolID
        self.userName = userName
        self.sub = sub
    }

    /// The event in `body`, or nil when the fast path cannot vouch for it (see the type's notes).
    public static func read(_ body: UnsafeRawBufferPointer) -> TokenGenerationEvent? {
        var reader = TokenEventReader(body)
        return try? reader.read()
    }

    /// The answer to the event in `body` (one ``read(_:)`` accepted, of `version`) adding the
    /// `stable_id` claim: byte for byte `answeringTokenGeneration(stableID:)` of the general
    /// path. Nil when the rewriter refuses the body.
    public static func answer(_ body: UnsafeRawBufferPointer, version: TokenGenerationRequest.EventVersion, stableID: String) -> [UInt8]? {
        TriggerJSONRewriter.rewrite(body, patch: version.customizesAccessToken ? accessAndIDTokens : idToken, value: stableID)
    }

    // The answers' shapes, as `answeringTokenGeneration(claims:)` builds them from the `response`
    // Cognito sent. "stable_id" is ``CognitoTriggerEvent/stableIDClaim`` (a patch key must be a
    // literal; the tests compare the two paths' bytes).

    /// `claimsToAddOrOverride.stable_id`, other claims and members kept.
    private static let claims: TriggerJSONRewriter.Patch = .object([
        (key: "claimsToAddOrOverride" as StaticString, patch: .object([(key: "stable_id" as StaticString, patch: .value)]))
    ])

    /// Version 1: `response.claimsOverrideDetails`.
    static let idToken: TriggerJSONRewriter.Patch = .object([
        (key: "response" as StaticString, patch: .object([(key: "claimsOverrideDetails" as StaticString, patch: claims)]))
    ])

    /// Versions 2 and 3: `response.claimsAndScopeOverrideDetails`, ID and access token.
    static let accessAndIDTokens: TriggerJSONRewriter.Patch = .object([
        (
            key: "response" as StaticString,
            patch: .object([
                (
                    key: "claimsAndScopeOverrideDetails" as StaticString,
                    patch: .object([
                        (key: "accessTokenGeneration" as StaticString, patch: claims),
                        (key: "idTokenGeneration" as StaticString, patch: claims),
                    ])
                )
            ])
        )
    ])
}
