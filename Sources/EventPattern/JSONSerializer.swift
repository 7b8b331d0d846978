extension JSONValue {
    /// Compact JSON text: no whitespace, object members in their stored order, numbers with their
    /// original text, non-ASCII characters as raw UTF-8, and only `"`, `\` and control characters
    /// escaped (`\n`, `\t`, … or `\u00XX`). The same value always serializes to the same bytes, and
    /// parsing the output gives back an equal value.
    public func serialized() -> String {
        String(decoding: serializedBytes(), as: UTF8.self)
    }

    /// The compact serialization (see ``serialized()``).
    public var serializedString: String { serialized() }

    /// The compact serialization as UTF-8 bytes (see ``serialized()``).
    public func serializedBytes() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        serialize(into: &output)
        return output
    }

    /// Appends the compact serialization to `output`.
    public func serialize(into output: inout [UInt8]) {
        serializeRecursively(into: &output, depth: 0)
    }

    /// Recursion is fastest, but only for nesting that cannot exhaust a thread stack; deeper
    /// subtrees (which only code, never the parser, can build) continue iteratively.
    private func serializeRecursively(into output: inout [UInt8], depth: Int) {
        switch self {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let flag):
            output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number):
            output.append(contentsOf: number.text.utf8)
        case .string(let string):
            appendQuoted(string, to: &output)
        case .array(let elements):
            guard depth < 256 else { return serializeIteratively(into: &output) }
            output.append(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                element.serializeRecursively(into: &output, depth: depth + 1)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            guard depth < 256 else { return serializeIteratively(into: &output) }
            output.append(UInt8(ascii: "{"))
            for (offset, member) in members.enumerated() {
                if offset > 0 { output.append(UInt8(ascii: ",")) }
                appendQuoted(member.key, to: &output)
                output.append(UInt8(ascii: ":"))
                member.value.serializeRecursively(into: &output, depth: depth + 1)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private func serializeIteratively(into output: inout [UInt8]) {
        enum Work {
            case value(JSONValue)
            case byte(UInt8)
        }
        var stack: [Work] = [.value(self)]
        while let work = stack.popLast() {
            switch work {
            case .byte(let byte):
                output.append(byte)
            case .value(let value):
                switch value {
                case .null, .bool, .number, .string:
                    value.serializeRecursively(into: &output, depth: 0)
                case .array(let elements):
                    output.append(UInt8(ascii: "["))
                    stack.append(.byte(UInt8(ascii: "]")))
                    for (offset, element) in elements.enumerated().reversed() {
                        stack.append(.value(element))
                        if offset > 0 { stack.append(.byte(UInt8(ascii: ","))) }
                    }
                case .object(let members):
                    output.append(UInt8(ascii: "{"))
                    stack.append(.byte(UInt8(ascii: "}")))
                    for (offset, member) in members.enumerated().reversed() {
                        stack.append(.value(member.value))
                        stack.append(.byte(UInt8(ascii: ":")))
                        stack.append(.value(.string(member.key)))
                        if offset > 0 { stack.append(.byte(UInt8(ascii: ","))) }
                    }
                }
            }
        }
    }
}

/// Appends `string` as a JSON string literal.
func appendQuoted(_ string: String, to output: inout [UInt8]) {
    output.append(UInt8(ascii: "\""))
    var needsEscaping = false
    for byte in string.utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
        needsEscaping = true
        break
    }
    if !needsEscaping {
        output.append(contentsOf: string.utf8)
    } else {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0F)])
            default:
                output.append(byte)
            }
        }
    }
    output.append(UInt8(ascii: "\""))
}
