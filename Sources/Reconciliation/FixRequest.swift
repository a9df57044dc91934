/// `--fix KIND… --dry-run|--apply`: which findings of this run to fix, and whether for real.
///
/// Only kinds with a safe, audited fix are accepted:
/// - `stale`: the identity takes the pool's email, verified flag and enabled state (the pool is
///   the truth for its own users);
/// - `orphaned`: an identity whose Cognito user is gone is marked `deleted` (a person left without
///   any live identity has no fix: someone must decide);
/// - `unmapped`: a target-pool user whose stable-ID attribute names an active person, corroborated
///   by that person's own identities, is linked to them (`via = invite`).
public struct FixRequest: Sendable, Equatable {
    public static let fixableKinds: Set<FindingKind> = [.stale, .orphaned, .unmapped]

    public var kinds: Set<FindingKind>
    /// False: a dry run, which does everything inside a transaction and rolls it back.
    public var apply: Bool
    /// Orphaned identities of a pool are not deleted when they are more than this share of the
    /// pool's live identities (and more than ten): a truncated file or a wrong pool would
    /// otherwise empty the map.
    public var maxOrphanedShare: Double

    public init(kinds: Set<FindingKind>, apply: Bool, maxOrphanedShare: Double = 0.25) throws(ReconciliationError) {
        guard !kinds.isEmpty else { throw .invalidFix("give at least one kind to fix") }
        if let kind = kinds.subtracting(Self.fixableKinds).sorted().first {
            throw .invalidFix("\(kind.rawValue) findings have no automatic fix (fixable: stale, orphaned, unmapped)")
        }
        guard maxOrphanedShare > 0, maxOrphanedShare <= 1 else { throw .invalidFix("the orphaned share must be in (0, 1]") }
        self.kinds = kinds
        self.apply = apply
        self.maxOrphanedShare = maxOrphanedShare
    }
}
