/// Why a cursor cannot be followed. Only the API module turns these into HTTP (410
/// `cursor_expired`; a malformed cursor never gets this far: 400 `invalid_cursor`).
public enum ChangeFeedError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Changes after the cursor were pruned (older than the retention): some were never read.
    case cursorPruned(prunedThrough: Int64)
    /// The cursor is past the end of this database's feed: it comes from another installation, or
    /// from commits a failover lost (the consumer acted on changes this database never had).
    case cursorAhead(logEnd: Int64)
    /// The cursor names a row this database holds another change at: commits a failover lost
    /// were read, and their positions were given to other changes since.
    case cursorDiverged(position: Int64)

    public var description: String {
        switch self {
        case .cursorPruned: return "the changes after this cursor were pruned (older than the retention)"
        case .cursorAhead: return "this cursor is past the end of this database's change feed"
        case .cursorDiverged: return "this cursor names a change this database does not have (lost in a failover)"
        }
    }
}
