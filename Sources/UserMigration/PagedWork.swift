import CognitoIngest

/// What a paged run over many workers counts as its items complete: `campaign finalize`'s
/// ``FinalizeSummary`` and `campaign cleanup`'s ``CleanupSummary``.
protocol PagedRunTally: Sendable {
    associatedtype Outcome: Sendable
    mutating func record(_ outcome: Outcome)
    /// The progress line's detail after an item.
    var progressDetail: String { get }
    var limitReached: Bool { get set }
}

/// The worker loop finalize and the clean-up share: items come a page at a time, `workers` at
/// once, each outcome recorded as it completes, so a paced Cognito quota stays busy while each
/// item waits on Cognito and the database.
enum PagedWork {
    /// Runs `work` for every item the pages bring, `workers` at a time, recording each outcome as
    /// it completes. The next page is read while the current one's items are still being worked
    /// on, so workers never wait for the database between pages. Stops taking items once `budget`
    /// is spent; a failure that stops the run cancels the items in flight (their rows stay as they
    /// were written — `creating`, `cleaning` — for `--resume`).
    static func run<Item: Sendable, Cursor: Sendable, Tally: PagedRunTally>(
        from first: Cursor,
        page nextPage: @escaping @Sendable (Cursor) async throws -> ([Item], Cursor)?,
        workers: Int, budget: FinalizeBudget, progress: ProgressReporter?, tally start: Tally,
        work: @escaping @Sendable (Item) async throws -> Tally.Outcome
    ) async throws -> Tally {
        let workers = max(1, workers)
        return try await withThrowingTaskGroup(of: Tally.Outcome.self, returning: Tally.self) { group in
            var tally = start
            var running = 0
            func record(_ outcome: Tally.Outcome) {
                tally.record(outcome)
                progress?.update(adding: 1, detail: tally.progressDetail)
            }
            var cursor = first
            pages: while !budget.exhausted, let page = try await nextPage(cursor) {
                for item in page.0 {
                    if budget.exhausted { break pages }
                    if running >= workers, let outcome = try await group.next() {
                        record(outcome)
                        running -= 1
                    }
                    group.addTask { try await work(item) }
                    running += 1
                }
                cursor = page.1
            }
            while let outcome = try await group.next() { record(outcome) }
            if budget.exhausted { tally.limitReached = true }
            return tally
        }
    }
}
