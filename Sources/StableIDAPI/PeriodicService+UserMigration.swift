import IdentityMap
public import Logging
public import UserMigration

extension PeriodicService {
    /// Writes the counted sign-ins of unknown usernames (``MigrationRefusalTally``) once their
    /// minute has passed, even when no further attempt comes to carry them, and whatever is left
    /// at shutdown. Batches that could not be written go back into the tally.
    public static func migrationRefusals(triggers: TriggerService, logger: Logger, interval: Duration = .seconds(15)) -> PeriodicService {
        PeriodicService(name: "writing counted migration refusals", interval: interval, runsAtStart: false, logger: logger) {
            shuttingDown in
            let tally = triggers.refusals.tally
            let batches = shuttingDown ? tally.drainAll() : tally.drainDue()
            do {
                try await triggers.writeRefusalCounts(batches, attribution: Attribution(actor: .system))
            } catch {
                tally.restore(batches)
                throw error
            }
        }
    }

    /// Writes the sign-ins pre token generation answered from memory (``SignInLog``) every few
    /// seconds, and whatever is left at shutdown. Sign-ins that could not be written go back.
    public static func signIns(triggers: TriggerService, logger: Logger, interval: Duration = .seconds(5)) -> PeriodicService {
        PeriodicService(name: "writing recorded sign-ins", interval: interval, runsAtStart: false, logger: logger) { _ in
            let entries = triggers.signIns.drain()
            do {
                try await triggers.writeSignIns(entries)
            } catch {
                triggers.signIns.restore(entries)
                throw error
            }
        }
    }

    /// ``TargetFactsRefresh`` every 10 minutes by default: the triggers then trust a target pool's
    /// claims by what the pool allows now, within that interval. The first pass waits one
    /// interval (a starting replica has the facts the campaign and the last reconciliation read).
    public static func targetFactsRefresh(
        _ refresh: TargetFactsRefresh, logger: Logger, interval: Duration = .seconds(600)
    )
        -> PeriodicService
    {
        PeriodicService(name: "refreshing target pool facts", interval: interval, runsAtStart: false, logger: logger) { shuttingDown in
            guard !shuttingDown else { return }
            try await refresh.run(attribution: Attribution(actor: .system))
        }
    }
}
