import ChangeFeed
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Support

extension ChangesController {
    /// `Accept: text/event-stream`: the changes after `cursor` (or after the end, without one) as
    /// Server-Sent Events, until the server drains. The first page is read before the stream
    /// begins, so a malformed or expired cursor is answered 400 or 410, not with a stream that
    /// ends at once.
    func stream(from cursor: FeedCursor?, limit: Int) async throws -> Response {
        let start: FeedCursor
        if let cursor { start = cursor } else { start = try await store.end() }
        let generation = notifier.generation
        let first = try await readPage(after: start, limit: limit)
        let controller = self
        let body = ResponseBody { writer in
            controller.metrics.held()
            defer { controller.metrics.released() }
            try await controller.follow(&writer, from: start, first: first, readSince: generation, limit: limit)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    /// Writes pages as they come: each change as an event, a comment when nothing was written for
    /// ``keepAlive``; waits for the notifier in between. Returns when the server drains, or when a
    /// read fails (the database went away, or the retention passed the cursor): the client's
    /// reconnect with `Last-Event-ID` then gets that answer as a status. `readSince`: the
    /// notifier's generation taken before `first` was read.
    func follow(
        _ writer: inout any ResponseBodyWriter, from start: FeedCursor, first: ChangeFeedStore.Page, readSince: UInt64, limit: Int
    ) async throws {
        var page = first
        var generation = readSince
        // A first comment sends the head and opens the stream on the client at once. The `id:`
        // sets the client's last event id to where the stream starts, so a client that reconnects
        // before any change arrived resumes from there with `Last-Event-ID`, not from the end
        // the server finds then (which would skip what committed in between).
        try await writer.write(ByteBuffer(string: ": stableid changes\nid: \(start.text)\n\n"))
        var lastWrite = ContinuousClock.now
        while !drain.isDraining, !Task.isCancelled {
            if !page.changes.isEmpty {
                metrics.delivered(page.changes, databaseNow: page.databaseNow)
                try await writer.write(try Self.events(page.changes))
                lastWrite = .now
                // Written: a wait below that reads nothing new must not write these again.
                page.changes = []
            }
            if !page.hasMore {
                if ContinuousClock.now - lastWrite >= keepAlive {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    lastWrite = .now
                }
                // At most a second at a time, so a drain is noticed while nothing commits.
                let readAgain = await notifier.waitForRead(
                    since: generation, retryAt: page.retryAt, until: min(lastWrite + keepAlive, .now + .seconds(1)))
                if !readAgain { continue }
            }
            generation = notifier.generation
            do {
                page = try await readPage(after: page.next, limit: limit)
            } catch {
                try await writer.write(ByteBuffer(string: ": interrupted; reconnect with Last-Event-ID\n\n"))
                return
            }
        }
    }

    /// `id:` the cursor after the change, `event:` its kind, `data:` its JSON (one line).
    static func events(_ changes: [FeedChange]) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        var json: [UInt8] = []
        for change in changes {
            buffer.writeString("id: \(change.cursor.text)\nevent: \(change.kind.rawValue)\ndata: ")
            json.removeAll(keepingCapacity: true)
            ChangeJSON(change).write(to: &json)
            buffer.writeBytes(json)
            buffer.writeString("\n\n")
        }
        return buffer
    }
}
