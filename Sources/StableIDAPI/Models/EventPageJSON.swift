import AuditTrail

/// A page of events. Each item is written by AuditTrail's `ExportedEvent`, the codec the exports
/// and the offline export check share, so a page and an export line spell an event alike.
struct EventPageJSON: Encodable {
    var events: [ExportedEvent]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case events
        case nextCursor = "next_cursor"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(events, forKey: .events)
        try container.encode(nextCursor, forKey: .nextCursor)  // explicit null: the last page
    }
}
