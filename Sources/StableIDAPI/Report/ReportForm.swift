import Foundation
import Hummingbird
import NIOCore

/// The bodies of the report's forms (`application/x-www-form-urlencoded`, as a browser posts
/// them). Every field is optional here: a missing `csrf` must be refused as a CSRF failure (403),
/// not as a malformed body.
enum ReportForm {
    struct SignIn: Decodable {
        var token: String?
        var csrf: String?
        var next: String?
    }

    struct Lookup: Decodable {
        var csrf: String?
        var query: String?
    }

    struct SignOut: Decodable {
        var csrf: String?
    }

    /// A collected body as form `T`; one that is not a form is 400 `invalid_request`, whose
    /// detail never repeats the body (it may hold a token).
    static func decode<T: Decodable>(_ type: T.Type, from body: ByteBuffer) throws -> T {
        do {
            return try URLEncodedFormDecoder().decode(T.self, from: String(buffer: body))
        } catch {
            throw Problem.invalidRequest("the body is not a form (application/x-www-form-urlencoded)")
        }
    }
}
