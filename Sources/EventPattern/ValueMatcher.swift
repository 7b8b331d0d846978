/// One compiled condition on a single leaf value of an event (a string, number, boolean or null).
///
/// Strings are compared by their UTF-8 bytes. Every string operator (exact, prefix, suffix,
/// equals-ignore-case, wildcard, cidr) only ever matches strings; `numeric` only matches numbers;
/// `exists` matches any leaf; `anything-but` matches any leaf that its exclusions do not name.
enum ValueMatcher: Sendable {
    case exactString(String)
    /// A number written in the pattern: equal when numerically equal (both comparable), or when the
    /// texts are identical (which also covers numbers too large to compare).
    case exactNumber(text: String, key: UInt64?)
    case exactBool(Bool)
    case exactNull
    /// A pattern string that is an IP address matches that address in any notation.
    case ipAddress(IPAddress)
    case prefix(String)
    case suffix(String)
    case equalsIgnoreCase(CaseFoldedPattern)
    case prefixIgnoreCase(CaseFoldedPattern)
    case suffixIgnoreCase(CaseFoldedPattern)
    case wildcard(WildcardPattern)
    case numeric(NumericRange)
    case cidr(IPRange)
    case anythingBut(Exclusions)
    case exists

    func matches(_ value: JSONValue) -> Bool {
        switch self {
        case .exactString(let expected):
            guard case .string(let actual) = value else { return false }
            return utf8Equal(actual, expected)
        case .exactNumber(let text, let key):
            guard case .number(let actual) = value else { return false }
            if actual.text == text { return true }
            guard let key, let actualKey = actual.comparableKey else { return false }
            return key == actualKey
        case .exactBool(let expected):
            guard case .bool(let actual) = value else { return false }
            return actual == expected
        case .exactNull:
            return value.isNull
        case .ipAddress(let expected):
            guard case .string(let actual) = value, let address = IPAddress(actual) else { return false }
            return address == expected
        case .prefix(let prefix):
            guard case .string(let actual) = value else { return false }
            return quotedHasPrefix(actual, prefix)
        case .suffix(let suffix):
            guard case .string(let actual) = value else { return false }
            return quotedHasSuffix(actual, suffix)
        case .equalsIgnoreCase(let pattern):
            guard case .string(let actual) = value else { return false }
            return pattern.matches(actual, mode: .whole)
        case .prefixIgnoreCase(let pattern):
            guard case .string(let actual) = value else { return false }
            return pattern.matches(actual, mode: .prefix)
        case .suffixIgnoreCase(let pattern):
            guard case .string(let actual) = value else { return false }
            return pattern.matches(actual, mode: .suffix)
        case .wildcard(let pattern):
            guard case .string(let actual) = value else { return false }
            return pattern.matches(actual)
        case .numeric(let range):
            guard case .number(let actual) = value, let key = actual.comparableKey else { return false }
            return range.contains(key)
        case .cidr(let range):
            guard case .string(let actual) = value, let address = IPAddress(actual) else { return false }
            return range.contains(address)
        case .anythingBut(let exclusions):
            return !exclusions.excludes(value)
        case .exists:
            return true
        }
    }
}

/// What an `anything-but` refuses. A leaf of another type than the exclusions is never refused
/// (`anything-but: "x"` accepts the number 5 and `null`).
enum Exclusions: Sendable {
    case strings([String])
    case numbers([UInt64])
    case prefixes([String])
    case suffixes([String])
    case ignoringCase([CaseFoldedPattern])
    case wildcards([WildcardPattern])

    func excludes(_ value: JSONValue) -> Bool {
        switch self {
        case .numbers(let keys):
            guard case .number(let number) = value, let key = number.comparableKey else { return false }
            return keys.contains(key)
        case .strings(let strings):
            guard case .string(let actual) = value else { return false }
            return strings.contains { utf8Equal($0, actual) }
        case .prefixes(let prefixes):
            guard case .string(let actual) = value else { return false }
            return prefixes.contains { quotedHasPrefix(actual, $0) }
        case .suffixes(let suffixes):
            guard case .string(let actual) = value else { return false }
            return suffixes.contains { quotedHasSuffix(actual, $0) }
        case .ignoringCase(let patterns):
            guard case .string(let actual) = value else { return false }
            return patterns.contains { $0.matches(actual, mode: .whole) }
        case .wildcards(let patterns):
            guard case .string(let actual) = value else { return false }
            return patterns.contains { $0.matches(actual) }
        }
    }
}

/// A numeric interval over ``JSONNumber/comparableKey`` values; a missing bound is unbounded.
struct NumericRange: Sendable, Equatable {
    var lower: UInt64?
    var lowerOpen: Bool
    var upper: UInt64?
    var upperOpen: Bool

    static func equals(_ key: UInt64) -> NumericRange {
        NumericRange(lower: key, lowerOpen: false, upper: key, upperOpen: false)
    }

    func contains(_ key: UInt64) -> Bool {
        if let lower {
            if lowerOpen ? key <= lower : key < lower { return false }
        }
        if let upper {
            if upperOpen ? key >= upper : key > upper { return false }
        }
        return true
    }
}

// MARK: - Prefix and suffix

// The pattern language matches prefixes and suffixes against the string's JSON-quoted form
// (`"value"`), so a prefix that ends in a quote can match the closing quote: `a"` is a prefix of
// the string `a`. These helpers keep that behaviour while comparing raw bytes.

/// Whether `"<string>"` starts with `"<prefix>`.
func quotedHasPrefix(_ string: String, _ prefix: String) -> Bool {
    let s = string.utf8
    let p = prefix.utf8
    if p.count <= s.count {
        if s.starts(with: p) { return true }
    }
    // `prefix` == string + '"'
    guard p.count == s.count + 1, p.last == UInt8(ascii: "\"") else { return false }
    return p.dropLast().elementsEqual(s)
}

/// Whether `"<string>"` ends with `<suffix>"`.
func quotedHasSuffix(_ string: String, _ suffix: String) -> Bool {
    let s = string.utf8
    let p = suffix.utf8
    if p.count <= s.count {
        if s.reversed().starts(with: p.reversed()) { return true }
    }
    // `suffix` == '"' + string
    guard p.count == s.count + 1, p.first == UInt8(ascii: "\"") else { return false }
    return p.dropFirst().elementsEqual(s)
}

// MARK: - Case-insensitive comparison

/// A pattern string compiled for `equals-ignore-case` (alone, or inside `prefix`, `suffix` and
/// `anything-but`).
///
/// Each character of the pattern accepts its lower-case or its upper-case form (full Unicode case
/// mappings, so `ß` accepts `ß` and `SS`), compared as UTF-8 bytes. This is per-character
/// case-insensitivity, not Unicode case folding of whole strings.
struct CaseFoldedPattern: Sendable {
    /// Per pattern character, its accepted byte sequences (one or two).
    let units: [[[UInt8]]]

    enum Mode {
        case whole
        case prefix
        case suffix
    }

    init(_ pattern: String) {
        units = pattern.unicodeScalars.map { scalar in
            let single = String(scalar)
            let lower = Array(single.lowercased().utf8)
            let upper = Array(single.uppercased().utf8)
            return lower == upper ? [lower] : [lower, upper]
        }
    }

    func matches(_ string: String, mode: Mode) -> Bool {
        var string = string
        return string.withUTF8 { bytes in matches(bytes, mode: mode) }
    }

    private func matches(_ bytes: UnsafeBufferPointer<UInt8>, mode: Mode) -> Bool {
        // The set of byte offsets reachable after each pattern character; alternatives of different
        // lengths can make it hold more than one offset. Counted from the end in suffix mode.
        var reachable: [Int] = [0]
        var next: [Int] = []
        let count = bytes.count
        let orderedUnits: [[[UInt8]]] = mode == .suffix ? units.reversed() : units
        for alternatives in orderedUnits {
            next.removeAll(keepingCapacity: true)
            for offset in reachable {
                for alternative in alternatives where alternative.count <= count - offset {
                    let start = mode == .suffix ? count - offset - alternative.count : offset
                    var equal = true
                    for (position, byte) in alternative.enumerated() where bytes[start + position] != byte {
                        equal = false
                        break
                    }
                    if equal, !next.contains(offset + alternative.count) {
                        next.append(offset + alternative.count)
                    }
                }
            }
            if next.isEmpty { return false }
            swap(&reachable, &next)
        }
        return mode == .whole ? reachable.contains(count) : true
    }
}

// MARK: - Wildcards

/// A compiled `wildcard` operand: `*` matches any run of bytes (including none); `\*` is a literal
/// star and `\\` a literal backslash.
struct WildcardPattern: Sendable {
    /// The literal pieces between stars; a pattern with `n` stars has `n + 1` pieces (some may be empty).
    let pieces: [[UInt8]]

    /// Why a wildcard operand is malformed.
    struct SyntaxError: Error {
        var message: String
    }

    init(_ pattern: String) throws(SyntaxError) {
        var pieces: [[UInt8]] = [[]]
        let bytes = Array(pattern.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "*") {
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "*") {
                    throw SyntaxError(message: "consecutive '*' characters at byte \(index); use a single '*'")
                }
                pieces.append([])
            } else if byte == UInt8(ascii: "\\") {
                guard index + 1 < bytes.count,
                    bytes[index + 1] == UInt8(ascii: "*") || bytes[index + 1] == UInt8(ascii: "\\")
                else {
                    throw SyntaxError(
                        message: "invalid escape at byte \(index); only \\* (a literal star) and \\\\ (a literal backslash) are allowed"
                    )
                }
                pieces[pieces.count - 1].append(bytes[index + 1])
                index += 1
            } else {
                pieces[pieces.count - 1].append(byte)
            }
            index += 1
        }
        self.pieces = pieces
    }

    func matches(_ string: String) -> Bool {
        var string = string
        return string.withUTF8 { matches($0) }
    }

    private func matches(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard pieces.count > 1 else { return bytes.elementsEqual(pieces[0]) }
        let first = pieces[0]
        let last = pieces[pieces.count - 1]
        guard bytes.count >= first.count + last.count,
            bytes.starts(with: first),
            bytes[(bytes.count - last.count)...].elementsEqual(last)
        else { return false }
        // With only `*` as a metacharacter, taking the leftmost occurrence of each middle piece is
        // always safe: it leaves the most room for the pieces after it.
        var position = first.count
        let end = bytes.count - last.count
        for piece in pieces[1..<(pieces.count - 1)] {
            guard let found = firstOccurrence(of: piece, in: bytes, from: position, to: end) else { return false }
            position = found + piece.count
        }
        return true
    }

    private func firstOccurrence(of piece: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from: Int, to end: Int) -> Int? {
        if piece.isEmpty { return from }
        guard end - from >= piece.count else { return nil }
        var start = from
        while start + piece.count <= end {
            if bytes[start] == piece[0] {
                var equal = true
                for offset in 1..<piece.count where bytes[start + offset] != piece[offset] {
                    equal = false
                    break
                }
                if equal { return start }
            }
            start += 1
        }
        return nil
    }
}
