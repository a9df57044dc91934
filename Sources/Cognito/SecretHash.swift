import CryptoPrimitives
import Foundation

/// The `SECRET_HASH` Cognito requires with a username whenever an app client has a secret
/// (`AdminInitiateAuth` against a source pool during migration, among others).
///
/// Base64(HMAC-SHA-256(key: client secret, message: username + client ID)). Pure and kept apart
/// from the client so it is tested with fixed vectors: the local Cognito stand-in does not check
/// it, so a wrong formula would only show in AWS.
public enum CognitoSecretHash {
    /// - Parameters:
    ///   - username: the name the request carries in `USERNAME`, exactly (an email when the pool
    ///     signs in by email), since Cognito hashes what it receives.
    public static func compute(clientSecret: String, username: String, clientID: String) -> String {
        let mac = HMACSHA256.authenticationCode(key: Array(clientSecret.utf8), message: Array((username + clientID).utf8))
        return Data(mac).base64EncodedString()
    }
}
