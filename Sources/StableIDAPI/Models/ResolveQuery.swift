import Foundation
import Hummingbird

/// The parameters of `GET /v1/resolve`, read from the request target in one pass.
///
/// The single lookup is the hot path, and Hummingbird's `queryParameters` builds a dictionary of
/// every pair (decoding each value) before five of them are asked for. A query without `%` means
/// what its bytes say (Hummingbird leaves `+` as it is), so its values are slices of the target;
/// any other query goes through `queryParameters`. Both ways read a query the same: it ends at a
/// `#`, the first of a repeated key counts, a key without `=` has the empty value, unknown keys
/// are ignored (ResolveQueryTests compares them).
struct ResolveQuery: Equatable {
    var pool: Substring?
    var iss: Substring?
    var sub: Substring?
    var consistency: Substring?
    /// A past time: who held the identity then (`PointInTimeRequest`).
    var at: Substring?

    init(pool: Substring? = nil, iss: Substring? = nil, sub: Substring? = nil, consistency: Substring? = nil, at: Substring? = nil) {
        self.pool = pool
        self.iss = iss
        self.sub = sub
        self.consistency = consistency
        self.at = at
    }

    /// Parameters are taken from the request, which is borrowed, not copied, as an initializer's
    /// argument would be.
    static func parse(_ request: Request) -> ResolveQuery {
        var target = request.uri.string
        var ranges = Ranges()
        let plain = target.withUTF8 { ranges.find(in: $0) }
        guard plain else {
            let parameters = request.uri.queryParameters
            return ResolveQuery(
                pool: parameters["pool"], iss: parameters["iss"], sub: parameters["sub"], consistency: parameters["consistency"],
                at: parameters["at"]
            )
        }
        func slice(_ range: Range<Int>?) -> Substring? {
            guard let range else { return nil }
            let utf8 = target.utf8
            let start = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
            return target[start..<utf8.index(start, offsetBy: range.count)]
        }
        return ResolveQuery(
            pool: slice(ranges.pool), iss: slice(ranges.iss), sub: slice(ranges.sub), consistency: slice(ranges.consistency),
            at: slice(ranges.at))
    }

    /// Where each value lies in the target's UTF-8.
    private struct Ranges {
        var pool: Range<Int>?
        var iss: Range<Int>?
        var sub: Range<Int>?
        var consistency: Range<Int>?
        var at: Range<Int>?

        /// False when the query has a `%` (its values need decoding).
        mutating func find(in target: UnsafeBufferPointer<UInt8>) -> Bool {
            // As Hummingbird's URI reads it: the query runs from the first `?` to the next `#`.
            guard var start = target.firstIndex(of: UInt8(ascii: "?")).map({ $0 + 1 }) else { return true }
            let limit = target[start...].firstIndex(of: UInt8(ascii: "#")) ?? target.count
            while start < limit {
                var end = start
                var equals: Int?
                while end < limit, target[end] != UInt8(ascii: "&") {
                    switch target[end] {
                    case UInt8(ascii: "%"): return false
                    case UInt8(ascii: "=") where equals == nil: equals = end
                    default: break
                    }
                    end += 1
                }
                let keyEnd = equals ?? end
                let value = (equals.map { $0 + 1 } ?? end)..<end
                switch UnsafeBufferPointer(rebasing: target[start..<keyEnd]) {
                case let key where pool == nil && Self.equal(key, "pool"): pool = value
                case let key where iss == nil && Self.equal(key, "iss"): iss = value
                case let key where sub == nil && Self.equal(key, "sub"): sub = value
                case let key where consistency == nil && Self.equal(key, "consistency"): consistency = value
                case let key where at == nil && Self.equal(key, "at"): at = value
                default: break
                }
                start = end + 1
            }
            return true
        }

        private static func equal(_ bytes: UnsafeBufferPointer<UInt8>, _ name: StaticString) -> Bool {
            bytes.count == name.utf8CodeUnitCount && (bytes.count == 0 || memcmp(bytes.baseAddress!, name.utf8Start, bytes.count) == 0)
        }
    }
}
