import TestSupport

extension MapFixture {
    /// How many events of `kind` the database holds.
    func events(kind: String) throws -> Int {
        try db.count("events", where: "kind = '\(kind)'")
    }
}
