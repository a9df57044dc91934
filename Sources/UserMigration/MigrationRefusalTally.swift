public import Foundation
public import IdentityMap
import Synchronization

/// Counts refused sign-ins of usernames no source pool knows, per campaign, so that they become
/// at most one `migration_refusals_counted` event per campaign and minute instead of one event
/// per attempt: anyone can send such sign-ins through Cognito's public endpoint, and what they
/// typed (often a mistyped email, or a password in the username field) must not be kept.
///
/// Per process: N replicas write at most N events a minute per campaign. Counts not yet written
/// when the process stops are written by ``drainAll()`` at shutdown; a crash loses at most a
/// minute of counts (the metric has them too).
public final class MigrationRefusalTally: Sendable {
    public static let window: Duration = .seconds(60)

    /// Counts ready to be written as one event.
    public struct Batch: Sendable, Equatable {
        public var campaign: UUID
        public var target: PoolID
        public var counts: [String: Int]
        public var since: Date
        public var until: Date
    }

    private struct Open {
        var target: PoolID
        var counts: [String: Int] = [:]
        var since: Date?
        /// When this campaign's last batch was taken; nil before the first.
        var lastTaken: ContinuousClock.Instant?
    }

    private let state = Mutex<[UUID: Open]>([:])

    public init() {}

    /// Counts one refusal; returns a batch to write when the campaign's window has passed.
    public func add(
        campaign: UUID, target: PoolID, reason: String, at now: ContinuousClock.Instant = .now, date: Date = Date()
    ) -> Batch? {
        state.withLock { open in
            var entry = open[campaign] ?? Open(target: target)
            entry.counts[reason, default: 0] += 1
            if entry.since == nil { entry.since = date }
            defer { open[campaign] = entry }
            return Self.take(&entry, campaign: campaign, now: now, date: date, force: false)
        }
    }

    /// Batches whose window has passed (a periodic flush, so counts do not wait for the next attempt).
    public func drainDue(at now: ContinuousClock.Instant = .now, date: Date = Date()) -> [Batch] {
        state.withLock { open in
            var batches: [Batch] = []
            for campaign in Array(open.keys) {
                guard var entry = open[campaign] else { continue }
                if let batch = Self.take(&entry, campaign: campaign, now: now, date: date, force: false) { batches.append(batch) }
                open[campaign] = entry
            }
            return batches
        }
    }

    /// Batches that could not be written go back into the count, to be written with the next.
    public func restore(_ batches: [Batch]) {
        state.withLock { open in
            for batch in batches {
                var entry = open[batch.campaign] ?? Open(target: batch.target)
                for (reason, count) in batch.counts { entry.counts[reason, default: 0] += count }
                entry.since = min(entry.since ?? batch.since, batch.since)
                open[batch.campaign] = entry
            }
        }
    }

    /// Every count not yet written (shutdown).
    public func drainAll(date: Date = Date()) -> [Batch] {
        state.withLock { open in
            var batches: [Batch] = []
            for campaign in Array(open.keys) {
                guard var entry = open[campaign] else { continue }
                if let batch = Self.take(&entry, campaign: campaign, now: .now, date: date, force: true) { batches.append(batch) }
                open[campaign] = entry
            }
            return batches
        }
    }

    private static func take(_ entry: inout Open, campaign: UUID, now: ContinuousClock.Instant, date: Date, force: Bool) -> Batch? {
        guard let since = entry.since, !entry.counts.isEmpty else { return nil }
        if !force, let last = entry.lastTaken, now - last < window { return nil }
        let batch = Batch(campaign: campaign, target: entry.target, counts: entry.counts, since: since, until: date)
        entry.counts = [:]
        entry.since = nil
        entry.lastTaken = now
        return batch
    }
}
