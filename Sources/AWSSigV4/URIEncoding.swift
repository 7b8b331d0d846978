/// Percent-encoding as SigV4 defines it: the RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) stay, every other byte of the UTF-8 form becomes `%XX` with
/// upper-case hex digits.
public enum SigV4URIEncoding {
    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Whether a byte is one of RFC 3986's unreserved characters.
    @inlinable
    public static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Encodes every byte that is not unreserved, `/` included. Used for query names and values.
    public static func encode(_ string: String) -> String {
        self.encode(string, keepingSlash: false)
    }

    /// Encodes an unencoded object key or path for use in a URL path: `/` stays a separator,
    /// everything else that is not unreserved is encoded (so `?`, `#`, `%`, `+`, `=` and spaces
    /// can never change the structure of the URL).
    public static func encodePath(_ string: String) -> String {
        self.encode(string, keepingSlash: true)
    }

    static func encode(_ string: String, keepingSlash: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            if self.isUnreserved(byte) || (keepingSlash && byte == UInt8(ascii: "/")) {
                out.append(byte)
            } else {
                self.appendEscape(byte, to: &out)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Brings an already-encoded path to canonical form without encoding it again: valid `%XX`
    /// escapes and `/` stay, any other byte that is not unreserved is encoded.
    static func canonicalizeEncodedPath(_ path: String) -> String {
        let bytes = Array(path.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if self.isUnreserved(byte) || byte == UInt8(ascii: "/") {
                out.append(byte)
            } else if byte == UInt8(ascii: "%"), index + 2 < bytes.count, self.hexValue(bytes[index + 1]) != nil,
                self.hexValue(bytes[index + 2]) != nil
            {
                out.append(contentsOf: bytes[index...(index + 2)])
                index += 3
                continue
            } else {
                self.appendEscape(byte, to: &out)
            }
            index += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes; `+` stays `+`. Returns nil for a malformed escape or invalid UTF-8.
    public static func decode(_ string: String) -> String? {
        let bytes = Array(string.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.count,
                    let high = self.hexValue(bytes[index + 1]),
                    let low = self.hexValue(bytes[index + 2])
                else { return nil }
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func appendEscape(_ byte: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "%"))
        out.append(self.hexDigits[Int(byte >> 4)])
        out.append(self.hexDigits[Int(byte & 0x0F)])
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
