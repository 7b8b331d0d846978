/// An IPv4 or IPv6 address as the pattern language reads it, for exact-IP and `cidr` matching.
///
/// Only strings shaped like addresses are considered: four dot-separated decimal numbers, or hex
/// digits and colons with at least one colon. IPv4 octets are read as decimal even with leading zeros
/// (`010.0.0.1` is `10.0.0.1`). An IPv4-mapped IPv6 address (`::ffff:a00:1`) is the IPv4 address it maps.
/// Embedded-IPv4 IPv6 forms (`::ffff:10.0.0.1`) and zone ids are not addresses here.
struct IPAddress: Hashable, Sendable {
    /// The upper 64 bits of an IPv6 address; 0 for IPv4.
    var high: UInt64
    /// The lower 64 bits of an IPv6 address, or the IPv4 address in the low 32 bits.
    var low: UInt64
    var isIPv6: Bool

    /// The address in `text`, or `nil` when `text` is not an address.
    init?(_ text: String) {
        var text = text
        guard let address = text.withUTF8({ IPAddress.parse($0) }) else { return nil }
        self = address
    }

    private init(high: UInt64, low: UInt64, isIPv6: Bool) {
        self.high = high
        self.low = low
        self.isIPv6 = isIPv6
    }

    /// Whether `text` has the shape of an address (whether or not its numbers are in range).
    static func looksLikeAddress(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { looksLikeIPv4($0) || looksLikeIPv6($0) }
    }

    var bitWidth: Int { isIPv6 ? 128 : 32 }

    static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    static func <= (lhs: IPAddress, rhs: IPAddress) -> Bool {
        (lhs.high, lhs.low) <= (rhs.high, rhs.low)
    }

    /// The address with every bit after the first `prefixLength` cleared (`set == false`) or set.
    func masked(prefixLength: Int, set: Bool) -> IPAddress {
        var result = self
        let width = bitWidth
        let hostBits = width - prefixLength
        if isIPv6 {
            let highHost = max(0, hostBits - 64)
            let lowHost = min(64, hostBits)
            let highMask: UInt64 = highHost >= 64 ? .max : (highHost == 0 ? 0 : (1 << UInt64(highHost)) - 1)
            let lowMask: UInt64 = lowHost >= 64 ? .max : (lowHost == 0 ? 0 : (1 << UInt64(lowHost)) - 1)
            result.high = set ? high | highMask : high & ~highMask
            result.low = set ? low | lowMask : low & ~lowMask
        } else {
            let mask: UInt64 = hostBits == 0 ? 0 : (1 << UInt64(hostBits)) - 1
            result.low = set ? low | mask : low & ~mask
        }
        return result
    }

    // MARK: Parsing

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private static func hexValue(_ byte: UInt8) -> UInt64? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt64(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt64(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// `[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+`
    static func looksLikeIPv4(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var groups = 0
        var digits = 0
        for byte in bytes {
            if isDigit(byte) {
                digits += 1
            } else if byte == UInt8(ascii: "."), digits > 0, groups < 3 {
                groups += 1
                digits = 0
            } else {
                return false
            }
        }
        return groups == 3 && digits > 0
    }

    /// `[0-9a-fA-F:]*:[0-9a-fA-F:]*`
    static func looksLikeIPv6(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var colon = false
        for byte in bytes {
            if byte == UInt8(ascii: ":") {
                colon = true
            } else if hexValue(byte) == nil {
                return false
            }
        }
        return colon
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        if looksLikeIPv4(bytes) { return parseIPv4(bytes) }
        if looksLikeIPv6(bytes) { return parseIPv6(bytes) }
        return nil
    }

    private static func parseIPv4(_ bytes: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        var address: UInt64 = 0
        var octet: UInt64 = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                address = address << 8 | octet
                octet = 0
            } else {
                octet = octet * 10 + UInt64(byte - UInt8(ascii: "0"))
                guard octet <= 255 else { return nil }
            }
        }
        address = address << 8 | octet
        return IPAddress(high: 0, low: address, isIPv6: false)
    }

    private static func parseIPv6(_ bytes: UnsafeBufferPointer<UInt8>) -> IPAddress? {
        // Split into groups; an empty group marks the position of "::" (allowed once).
        var groups: [UInt64] = []
        var gapIndex: Int?
        var index = 0
        let count = bytes.count
        if count >= 2, bytes[0] == UInt8(ascii: ":"), bytes[1] == UInt8(ascii: ":") {
            gapIndex = 0
            index = 2
            if index == count { return IPAddress(high: 0, low: 0, isIPv6: true) }
        } else if count >= 1, bytes[0] == UInt8(ascii: ":") {
            return nil
        }
        while index < count {
            var value: UInt64 = 0
            var digits = 0
            while index < count, let digit = hexValue(bytes[index]) {
                value = value << 4 | digit
                digits += 1
                index += 1
                guard digits <= 4 else { return nil }
            }
            guard digits > 0 else { return nil }
            groups.append(value)
            guard groups.count <= 8 else { return nil }
            if index == count { break }
            // A colon follows; "::" marks the gap.
            index += 1
            if index < count, bytes[index] == UInt8(ascii: ":") {
                guard gapIndex == nil else { return nil }
                gapIndex = groups.count
                index += 1
                if index == count { break }
            } else if index == count {
                return nil  // a single trailing colon
            }
        }
        var full: [UInt64]
        if let gapIndex {
            guard groups.count <= 7 else { return nil }
            full = Array(groups[..<gapIndex])
            full.append(contentsOf: repeatElement(0, count: 8 - groups.count))
            full.append(contentsOf: groups[gapIndex...])
        } else {
            guard groups.count == 8 else { return nil }
            full = groups
        }
        let high = full[0..<4].reduce(0) { $0 << 16 | $1 }
        let low = full[4..<8].reduce(0) { $0 << 16 | $1 }
        // An IPv4-mapped address is the IPv4 address it carries.
        if high == 0, low >> 32 == 0xFFFF {
            return IPAddress(high: 0, low: low & 0xFFFF_FFFF, isIPv6: false)
        }
        return IPAddress(high: high, low: low, isIPv6: true)
    }
}

/// An inclusive range of addresses of one family: a `cidr` block.
struct IPRange: Hashable, Sendable {
    var lower: IPAddress
    var upper: IPAddress

    func contains(_ address: IPAddress) -> Bool {
        address.isIPv6 == lower.isIPv6 && lower <= address && address <= upper
    }

    /// Parses `address/prefix-length`. Host bits in the address are ignored (`10.0.0.7/24` is
    /// `10.0.0.0`–`10.0.0.255`). The prefix length must be below the address width (`/32` and
    /// `/128` are refused, as the pattern language refuses them; list the address itself instead).
    static func parseCIDR(_ text: String) -> Result<IPRange, CIDRError> {
        var parts = text.split(separator: "/", omittingEmptySubsequences: false)
        while let last = parts.last, last.isEmpty, parts.count > 1 { parts.removeLast() }
        guard parts.count == 2 else {
            return .failure(CIDRError("malformed CIDR \"\(text)\": exactly one '/' is required, as in 10.0.0.0/24"))
        }
        var digits = Substring(parts[1])
        var negative = false
        if let sign = digits.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            digits.count <= 10, let magnitude = Int(digits), magnitude <= Int(Int32.max)
        else {
            return .failure(CIDRError("malformed CIDR \"\(text)\": the prefix length must be an integer"))
        }
        let prefixLength = negative ? -magnitude : magnitude
        guard prefixLength >= 0 else {
            return .failure(CIDRError("malformed CIDR \"\(text)\": the prefix length must not be negative"))
        }
        let addressText = String(parts[0])
        guard IPAddress.looksLikeAddress(addressText) else {
            return .failure(CIDRError("malformed CIDR \"\(text)\": \"\(addressText)\" is not an IPv4 or IPv6 address"))
        }
        guard let address = IPAddress(addressText) else {
            return .failure(CIDRError("malformed CIDR \"\(text)\": \"\(addressText)\" is not a valid IP address"))
        }
        guard prefixLength < address.bitWidth else {
            return .failure(CIDRError(
                "malformed CIDR \"\(text)\": an \(address.isIPv6 ? "IPv6" : "IPv4") prefix length must be below \(address.bitWidth)"
            ))
        }
        return .success(IPRange(
            lower: address.masked(prefixLength: prefixLength, set: false),
            upper: address.masked(prefixLength: prefixLength, set: true)
        ))
    }
}

/// Why a `cidr` operand is not a CIDR block.
struct CIDRError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
