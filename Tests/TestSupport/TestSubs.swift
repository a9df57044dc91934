/// A Cognito-shaped `sub` (a lower-case UUID) standing for the short, readable `name` a test uses.
///
/// The identity map refuses any `sub` that is not a UUID (Cognito never issues anything else), so
/// tests can no longer write `"s"`, `"sub-1"` or `"taken"` as subs. `testSub("taken")` keeps the
/// short name at the call site and turns it into a UUID that is:
/// - deterministic: the same name gives the same UUID in every test, process and run, so expected
///   values (`#expect(identity.sub == testSub("taken"))`), SQL conditions and URLs can be built
///   from the name alone;
/// - distinct: two FNV-1a 64-bit hashes of the name with different offset bases (each finalized)
///   fill 122 bits, so different names do not collide in practice;
/// - canonical: lower-case `8-4-4-4-12` with version nibble 4 and RFC 4122 variant, exactly the
///   form the store keeps, so comparing with what comes back needs no case folding. Being only hex
///   digits and dashes, it is also safe to splice into a SQL string or a URL.
public func testSub(_ name: String) -> String {
    func fnv1a(_ basis: UInt64) -> UInt64 {
        var hash = basis
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        // MurmurHash3's finalizer (a bijection): short names such as "a" and "b" otherwise give
        // UUIDs that differ in only a few digits, which is hard to read in a failure message.
        hash = (hash ^ (hash >> 33)) &* 0xff51_afd7_ed55_8ccd
        hash = (hash ^ (hash >> 33)) &* 0xc4ce_b9fe_1a85_ec53
        return hash ^ (hash >> 33)
    }
    let high = fnv1a(0xcbf2_9ce4_8422_2325)
    let low = fnv1a(0xdff3_cab0_9023_7571)
    // Version 4 in the top nibble of the third group; variant 10xx in the top bits of the fourth.
    let versioned = (high & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000
    let varianted = (low & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000
    let hex = hex16(versioned) + hex16(varianted)
    var out = ""
    out.reserveCapacity(36)
    for (index, character) in hex.enumerated() {
        if [8, 12, 16, 20].contains(index) { out.append("-") }
        out.append(character)
    }
    return out
}

/// `value` as 16 lower-case hex digits, zero-padded.
private func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}
