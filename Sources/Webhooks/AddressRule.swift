import Foundation

/// Which IP addresses a webhook may be delivered to without `allow_private`: only globally
/// routable unicast ones. A delivery aimed at the service's own network — loopback, RFC 1918,
/// link-local (the cloud metadata address 169.254.169.254 among them), carrier-grade NAT, unique
/// local IPv6 — would let whoever registers a URL make the service POST into places only it can
/// reach (server-side request forgery).
///
/// Pure: applied to the literal address of a URL when it is added, and to every address libcurl is
/// about to connect to when delivering (`CurlRequest.connectFilter`), so a name that resolves — or
/// is rebound between two deliveries — to such an address is never connected to.
public enum AddressRule {
    /// Nil when `address` (4 bytes, or 16 for IPv6, network order) is public; otherwise what it is.
    public static func refusal(_ address: [UInt8]) -> String? {
        switch address.count {
        case 4: return refusalV4(address)
        case 16: return refusalV6(address)
        default: return "not an IP address"
        }
    }

    public static func isPublic(_ address: [UInt8]) -> Bool {
        refusal(address) == nil
    }

    /// IPv4 blocks that are not global unicast (IANA special-purpose registry, the ones that matter).
    static func refusalV4(_ a: [UInt8]) -> String? {
        switch (a[0], a[1]) {
        case (0, _): return "\"this network\" (0.0.0.0/8)"
        case (10, _): return "private (10.0.0.0/8)"
        case (100, 64...127): return "shared, carrier-grade NAT (100.64.0.0/10)"
        case (127, _): return "loopback (127.0.0.0/8)"
        case (169, 254): return "link-local, the cloud metadata address among them (169.254.0.0/16)"
        case (172, 16...31): return "private (172.16.0.0/12)"
        case (192, 0) where a[2] == 0: return "IETF protocol assignments (192.0.0.0/24)"
        case (192, 168): return "private (192.168.0.0/16)"
        case (198, 18...19): return "benchmarking (198.18.0.0/15)"
        case (224...239, _): return "multicast (224.0.0.0/4)"
        case (240...255, _): return "reserved or broadcast (240.0.0.0/4)"
        default: return nil
        }
    }

    /// IPv6 blocks that are not global unicast, and the forms that carry an IPv4 address (mapped,
    /// NAT64, 6to4), judged by the IPv4 address inside.
    static func refusalV6(_ a: [UInt8]) -> String? {
        if a.allSatisfy({ $0 == 0 }) { return "unspecified (::)" }
        if a.prefix(15).allSatisfy({ $0 == 0 }) && a[15] == 1 { return "loopback (::1)" }
        if a.prefix(10).allSatisfy({ $0 == 0 }) && a[10] == 0xFF && a[11] == 0xFF {
            return refusalV4(Array(a[12..<16])).map { "IPv4-mapped, \($0)" }
        }
        if a.prefix(12).allSatisfy({ $0 == 0 }) { return "IPv4-compatible (::/96, deprecated)" }
        if a.prefix(12) == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] {
            return refusalV4(Array(a[12..<16])).map { "NAT64, \($0)" }
        }
        if a[0] == 0x20 && a[1] == 0x02 { return refusalV4(Array(a[2..<6])).map { "6to4, \($0)" } }
        if a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xFF && a[3] == 0x9B { return "local-use NAT64 (64:ff9b:1::/48)" }
        if a[0] == 0x01 && a[1] == 0x00 && a[2...7].allSatisfy({ $0 == 0 }) { return "discard-only (100::/64)" }
        if a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0 { return "Teredo (2001::/32)" }
        if a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8 { return "documentation (2001:db8::/32)" }
        if a[0] & 0xFE == 0xFC { return "unique local (fc00::/7)" }
        if a[0] == 0xFE && a[1] & 0xC0 == 0x80 { return "link-local (fe80::/10)" }
        if a[0] == 0xFE && a[1] & 0xC0 == 0xC0 { return "site-local (fec0::/10, deprecated)" }
        if a[0] == 0xFF { return "multicast (ff00::/8)" }
        return nil
    }

    // MARK: Literals

    /// A dotted-quad IPv4 address exactly as written by everyone: four decimal numbers 0–255
    /// without leading zeros. The other spellings some parsers take (`127.1`, `0x7f.0.0.1`,
    /// `2130706433`, octal `0177.0.0.1`) are not read here — a URL using one is refused.
    public static func parseIPv4(_ text: some StringProtocol) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                part == "0" || part.first != "0", let value = UInt8(part)
            else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    /// An IPv6 address in RFC 4291 text form (hex groups, one `::`, an IPv4 tail), no zone.
    public static func parseIPv6(_ text: some StringProtocol) -> [UInt8]? {
        let text = String(text)
        guard !text.isEmpty, text.count <= 45, text.allSatisfy({ $0.isASCII && ($0.isHexDigit || $0 == ":" || $0 == ".") }) else {
            return nil
        }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String, last: Bool) -> [UInt8]? {
            guard !part.isEmpty else { return [] }
            var bytes: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if last, index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    bytes += v4
                } else {
                    guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                    bytes += [UInt8(value >> 8), UInt8(value & 0xFF)]
                }
            }
            return bytes
        }
        guard let head = groups(halves[0], last: halves.count == 1) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1], last: true), head.count + tail.count <= 14 else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}
