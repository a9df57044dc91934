public import Foundation

/// Why a reconciliation request was refused. Only the CLI and the API map these to exit codes and
/// HTTP answers: `busy` is a runtime failure (exit 3, 409/503), the rest are usage errors.
public enum ReconciliationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another run of the same scope, or an import into one of its pools, holds the lock.
    case busy(String)
    case invalidScope(String)
    case unknownPool(String)
    /// A snapshot was offered for a pool outside the run's scope.
    case poolNotInScope(String)
    case poolStagedTwice(String)
    /// Pools of the scope that were never snapshotted: judging them would orphan everyone.
    case missingSnapshots([String])
    /// The run already finished (or was abandoned).
    case runClosed(UUID)
    /// The dedicated connection holding the run lock was lost: another run may have started.
    case lockLost
    /// `--resume` named a run that does not exist.
    case runNotFound(UUID)
    /// `--resume` named a run that cannot be resumed, and why (completed, a file run, too old…).
    case notResumable(UUID, String)
    case invalidFix(String)
    case invalidAcknowledgement(String)
    case findingNotFound(Int64)
    /// A bulk acknowledgement matched more findings than one event may list.
    case tooManyFindings(matched: Int, limit: Int)

    public var description: String {
        switch self {
        case .busy(let reason): return reason
        case .invalidScope(let reason): return reason
        case .unknownPool(let pool): return "pool \(pool) is not registered"
        case .poolNotInScope(let pool): return "pool \(pool) is not part of this reconciliation"
        case .poolStagedTwice(let pool): return "pool \(pool) was read twice in one run"
        case .missingSnapshots(let pools): return "no snapshot of \(pools.joined(separator: ", ")): every pool of the scope must be read"
        case .runClosed(let id): return "reconciliation run \(id.uuidString.lowercased()) is already finished"
        case .lockLost: return "the connection holding the reconciliation lock was lost; run again"
        case .runNotFound(let id): return "no reconciliation run \(id.uuidString.lowercased())"
        case .notResumable(let id, let reason): return "reconciliation run \(id.uuidString.lowercased()) cannot be resumed: \(reason)"
        case .invalidFix(let reason): return reason
        case .invalidAcknowledgement(let reason): return reason
        case .findingNotFound(let id): return "no finding \(id)"
        case .tooManyFindings(let matched, let limit):
            return "\(matched) findings match; acknowledge at most \(limit) at once (narrow the filter)"
        }
    }
}
