/// The ListUsers pages a stamp run has in flight, in the order Cognito returned them: a pure value,
/// tested without Cognito.
///
/// Workers write users of several pages at once (the next page is read while the last writes of
/// the one before are still out), but a page's token may be saved only once every user of it and
/// of every page before it was handled: saved any earlier, a run killed then would resume past
/// users nobody wrote. ``takeFinished()`` hands out exactly those pages, oldest first.
struct StampWindow: Sendable, Equatable {
    struct Page: Sendable, Equatable {
        var sequence: Int
        /// The token of the page after this one; nil for the last page.
        var nextToken: String?
        /// Its users.
        var users: Int
        /// What it did with users it did not write, and the writes that changed nothing (gone, failed).
        var counts: StampCounts
        var failures: [StampSummary.Failure] = []
        /// Writes handed to workers and not yet back.
        var pending = 0
        /// Every write it needs was handed out (false while the run may still hand out more, and
        /// for ever when the run stopped at its `--limit` partway through it).
        var dispatched = false
    }

    private(set) var pages: [Page] = []
    private var nextSequence = 0

    var isEmpty: Bool { pages.isEmpty }

    /// A page just read and decided; returns its sequence number.
    mutating func open(nextToken: String?, users: Int, counts: StampCounts) -> Int {
        let sequence = nextSequence
        nextSequence += 1
        pages.append(Page(sequence: sequence, nextToken: nextToken, users: users, counts: counts))
        return sequence
    }

    /// A write of page `sequence` was handed to a worker.
    mutating func dispatched(to sequence: Int) {
        update(sequence) { $0.pending += 1 }
    }

    /// Page `sequence` needs no more writes.
    mutating func close(_ sequence: Int) {
        update(sequence) { $0.dispatched = true }
    }

    /// A write of page `sequence` came back; `counts` is what it adds to the page (nothing for a
    /// user changed: that one was counted when its event was recorded).
    mutating func returned(to sequence: Int, adding counts: StampCounts, failure: StampSummary.Failure? = nil) {
        update(sequence) { page in
            page.pending -= 1
            page.counts.add(counts)
            if let failure { page.failures.append(failure) }
        }
    }

    /// Removes and returns the oldest pages that are fully handled, up to the first that is not.
    mutating func takeFinished() -> [Page] {
        let done = pages.prefix { $0.dispatched && $0.pending == 0 }
        pages.removeFirst(done.count)
        return Array(done)
    }

    private mutating func update(_ sequence: Int, _ change: (inout Page) -> Void) {
        guard let index = pages.firstIndex(where: { $0.sequence == sequence }) else {
            preconditionFailure("stamp page \(sequence) is not in flight")
        }
        change(&pages[index])
    }
}
