import Curl
import Foundation
import Synchronization
import Testing

/// `CurlRequest.connectFilter`: the address libcurl is about to connect to — after DNS — is asked
/// first; a refused one is never connected to.
@Suite("libcurl connect filter", .timeLimit(.minutes(2)))
struct CurlConnectFilterTests {
    static let loopbackV4: [UInt8] = [127, 0, 0, 1]

    @Test("a name resolving to a refused address is never connected to (addressRefused, nothing arrives); an accepted one is")
    func filter() async throws {
        let server = LoopbackServer()
        try await server.run { base in
            // By name, so libcurl resolves it: the filter sees the resolved address.
            let named = base.replacingOccurrences(of: "127.0.0.1", with: "localhost") + "/hello"
            let client = CurlClient(maxConcurrentTransfers: 1)
            let seen = SeenAddresses()
            let error = await #expect(throws: CurlError.self) {
                try await client.send(
                    CurlRequest(method: "GET", url: named, timeout: .seconds(5), connectFilter: { seen.add($0) && false }))
            }
            #expect(error?.kind == .addressRefused, "\(String(describing: error))")
            #expect(error?.message.contains("127.0.0.1") == true, "\(String(describing: error))")
            #expect(seen.all.contains(Self.loopbackV4))
            #expect(server.count(path: "/hello") == 0)
            let allowed = try await client.send(
                CurlRequest(method: "GET", url: named, timeout: .seconds(5), connectFilter: { $0 == Self.loopbackV4 }))
            #expect(allowed.status == 200 && server.count(path: "/hello") == 1)
        }
    }
}

/// The addresses a filter was asked about (it runs on libcurl's thread).
final class SeenAddresses: Sendable {
    private let addresses = Mutex<[[UInt8]]>([])

    func add(_ address: [UInt8]) -> Bool {
        addresses.withLock { $0.append(address) }
        return true
    }

    var all: [[UInt8]] { addresses.withLock { $0 } }
}
