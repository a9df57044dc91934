public import Postgres

/// When a reconciliation finding counts as open: `open`, or `acknowledged` until a time that has
/// passed. Findings are Reconciliation's; `campaign finalize` (UserMigration, which Reconciliation
/// builds on) reads them too, so the rule lives here, where both see it, in its two spellings.
public enum FindingOpenRule {
    /// The effective state of the `findings` row aliased `alias`: its state, but `open` for an
    /// acknowledgement whose `ack_until` has passed. Code-chosen SQL text (no binds).
    public static func effectiveState(of alias: StaticString) -> String {
        let f = alias.description
        return "(CASE WHEN \(f).state = 'acknowledged' AND \(f).ack_until IS NOT NULL AND \(f).ack_until <= now() THEN 'open' "
            + "ELSE \(f).state END)"
    }

    /// Whether the row aliased `alias` is open, spelled so that an index on `state` still serves.
    public static func isOpen(_ alias: StaticString) -> PostgresQuery {
        let f = alias.description
        return """
            (\(unescaped: f).state = 'open' OR (\(unescaped: f).state = 'acknowledged' AND \(unescaped: f).ack_until IS NOT NULL \
            AND \(unescaped: f).ack_until <= now()))
            """
    }
}
