import ChangeFeed

extension WebhookWorker {
    /// What the feed holds after the cursor, for this endpoint.
    enum Next {
        /// Caught up (or held by a hole still committing, until `retryAt`): `position` is where
        /// the cursor may move to without sending anything.
        case idle(position: Int64, retryAt: ContinuousClock.Instant?)
        /// Positions with nothing of the endpoint's kinds, up to this one: move the cursor.
        case skip(Int64)
        /// The next message: its changes, and its last position (the cursor once it is delivered).
        case message([FeedChange], through: Int64)
    }

    struct Scan {
        var next: Next
        /// The feed's newest position at the read (for the lag gauge).
        var end: Int64
    }

    /// Reads the feed after the cursor through `ChangeFeedStore.page` (commit order, holes waited
    /// for) and gathers the next message: up to a batch of changes of the endpoint's kinds; fewer
    /// when the feed ends first. A pinned message (``pendingThrough``: one attempted before,
    /// here or by a server that stopped) is gathered again exactly — the changes of the
    /// endpoint's kinds up to its last position — so its body and id are the same as before.
    func scan() async throws -> Scan {
        var matched: [FeedChange] = []
        var position = cursor
        let limit = min(ChangeFeedStore.maxPage, max(settings.batchSize, 100))
        while true {
            let page = try await context.feed.page(after: FeedCursor(position: position), limit: limit)
            for change in page.changes where pendingThrough.map({ change.position <= $0 }) ?? true {
                guard endpoint.kinds.isEmpty || endpoint.kinds.contains(change.kind) else { continue }
                matched.append(change)
                if pendingThrough == nil, matched.count == settings.batchSize {
                    return Scan(next: .message(matched, through: change.position), end: page.end)
                }
            }
            if let pinned = pendingThrough {
                if page.next.position >= pinned {
                    return Scan(next: matched.isEmpty ? .skip(pinned) : .message(matched, through: pinned), end: page.end)
                }
                // A hole before the pinned position: wait for it (it fills or is given up).
                if !page.hasMore { return Scan(next: .idle(position: cursor, retryAt: page.retryAt), end: page.end) }
            } else if !page.hasMore {
                guard let last = matched.last else {
                    return Scan(next: .idle(position: page.next.position, retryAt: page.retryAt), end: page.end)
                }
                return Scan(next: .message(matched, through: last.position), end: page.end)
            } else if matched.isEmpty {
                // A full page with nothing for this endpoint: save the progress, then read on.
                return Scan(next: .skip(page.next.position), end: page.end)
            }
            position = page.next.position
        }
    }
}
