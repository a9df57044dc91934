import Foundation
import HTTPTypes
import IdentityMap
import Support

/// `?at=T` on `GET /v1/resolve` and `GET /v1/users/{id}`: the answer as it stood at T, from the
/// audit trail (AuditTrail's `PointInTime`).
///
/// Who owned a sub in the past is audit data, not a lookup: besides the route's `resolve` scope,
/// `at=` needs `audit`. A backend token that can resolve the present cannot read the history of
/// merges and relinks through the side door.
enum PointInTimeRequest {
    /// The time asked for, or nil without `at`. 403 for a token without `audit`, checked first;
    /// 400 `invalid_time` for anything but an RFC 3339 time (or a date alone: its midnight UTC).
    static func time(_ text: Substring?, context: AppRequestContext) throws -> Date? {
        guard let text else { return nil }
        guard context.token?.scopes.contains(.audit) == true else {
            throw Problem(
                .forbidden, code: "forbidden", title: "The token lacks a scope",
                detail: "at= answers from the audit trail: it needs the 'audit' scope as well as 'resolve'"
            )
        }
        guard let date = RFC3339.parse(text) else {
            throw Problem(
                .badRequest, code: "invalid_time", title: "Not an RFC 3339 time",
                detail: "at must be an RFC 3339 time such as 2026-11-27T09:38:53Z"
            )
        }
        return date
    }

    /// 404 for what the events did not know at T (an identity not linked yet, a user not created
    /// yet): apart from `not_found`, which says so of the present.
    static func unknown(_ what: String, at date: Date) -> Problem {
        Problem(.notFound, code: "unknown_at_time", title: "Unknown at that time", detail: "\(what) at \(RFC3339.format(date))")
    }
}
