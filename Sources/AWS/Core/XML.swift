/// A small, bounded XML reader for AWS's responses (S3 errors and listings, STS results).
///
/// It builds a tree of elements with their text, ignores attributes, namespaces prefixes,
/// processing instructions and comments, decodes the predefined and numeric entities, and
/// rejects DOCTYPE declarations (so no entity expansion can happen). Depth and size are capped.
struct XMLElement: Sendable, Equatable {
    /// The local name (any `prefix:` removed).
    var name: String
    var children: [XMLElement] = []
    /// The concatenated character data directly inside this element.
    var text: String = ""

    func child(_ name: String) -> XMLElement? { self.children.first { $0.name == name } }
    func children(_ name: String) -> [XMLElement] { self.children.filter { $0.name == name } }
    /// The text of the first child with this name.
    func string(_ name: String) -> String? { self.child(name)?.text }
}

struct XMLParseError: Error, CustomStringConvertible {
    var offset: Int
    var reason: String
    var description: String { "malformed XML at byte \(self.offset): \(self.reason)" }
}

enum XMLReader {
    static let maxDepth = 32
    static let maxBytes = 16 * 1024 * 1024

    static func parse(_ bytes: [UInt8]) throws -> XMLElement {
        guard bytes.count <= self.maxBytes else { throw XMLParseError(offset: 0, reason: "document too large") }
        var parser = Parser(bytes: bytes)
        return try parser.document()
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
            // UTF-8 byte order mark
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { self.index = 3 }
        }

        mutating func document() throws -> XMLElement {
            var stack: [XMLElement] = []
            var root: XMLElement?
            var text: [UInt8] = []

            func flushText(_ stack: inout [XMLElement], _ text: inout [UInt8]) throws {
                guard !text.isEmpty else { return }
                if !stack.isEmpty {
                    stack[stack.count - 1].text += try Self.decodeEntities(text, offset: self.index)
                }
                text.removeAll(keepingCapacity: true)
            }

            while self.index < self.bytes.count {
                let byte = self.bytes[self.index]
                if byte != UInt8(ascii: "<") {
                    text.append(byte)
                    self.index += 1
                    continue
                }
                if self.hasPrefix("<?") {
                    try self.skip(past: "?>")
                } else if self.hasPrefix("<!--") {
                    try self.skip(past: "-->")
                } else if self.hasPrefix("<![CDATA[") {
                    let start = self.index + 9
                    try self.skip(past: "]]>")
                    if !stack.isEmpty {
                        try flushText(&stack, &text)
                        stack[stack.count - 1].text += String(decoding: self.bytes[start..<(self.index - 3)], as: UTF8.self)
                    }
                } else if self.hasPrefix("<!") {
                    throw XMLParseError(offset: self.index, reason: "DOCTYPE and declarations are not accepted")
                } else if self.hasPrefix("</") {
                    try flushText(&stack, &text)
                    self.index += 2
                    let name = self.readName()
                    try self.skip(past: ">")
                    guard let element = stack.popLast(), element.name == Self.localName(name) else {
                        throw XMLParseError(offset: self.index, reason: "unexpected closing tag \(name)")
                    }
                    if stack.isEmpty {
                        guard root == nil else { throw XMLParseError(offset: self.index, reason: "two root elements") }
                        root = element
                    } else {
                        stack[stack.count - 1].children.append(element)
                    }
                } else {
                    try flushText(&stack, &text)
                    self.index += 1
                    let name = self.readName()
                    guard !name.isEmpty else { throw XMLParseError(offset: self.index, reason: "empty element name") }
                    let selfClosing = try self.skipAttributes()
                    let element = XMLElement(name: Self.localName(name))
                    if selfClosing {
                        if stack.isEmpty {
                            guard root == nil else { throw XMLParseError(offset: self.index, reason: "two root elements") }
                            root = element
                        } else {
                            stack[stack.count - 1].children.append(element)
                        }
                    } else {
                        guard stack.count < XMLReader.maxDepth else {
                            throw XMLParseError(offset: self.index, reason: "nesting deeper than \(XMLReader.maxDepth)")
                        }
                        stack.append(element)
                    }
                }
            }
            guard stack.isEmpty else { throw XMLParseError(offset: self.index, reason: "unclosed element \(stack.last!.name)") }
            guard let root else { throw XMLParseError(offset: self.index, reason: "no root element") }
            return root
        }

        func hasPrefix(_ prefix: StaticString) -> Bool {
            let count = prefix.utf8CodeUnitCount
            guard self.index + count <= self.bytes.count else { return false }
            return prefix.withUTF8Buffer { buffer in
                for offset in 0..<count where self.bytes[self.index + offset] != buffer[offset] { return false }
                return true
            }
        }

        mutating func skip(past terminator: StaticString) throws {
            while self.index < self.bytes.count {
                if self.hasPrefix(terminator) {
                    self.index += terminator.utf8CodeUnitCount
                    return
                }
                self.index += 1
            }
            throw XMLParseError(offset: self.index, reason: "unterminated markup")
        }

        mutating func readName() -> String {
            let start = self.index
            while self.index < self.bytes.count {
                let byte = self.bytes[self.index]
                if byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/") || byte == UInt8(ascii: " ")
                    || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                {
                    break
                }
                self.index += 1
            }
            return String(decoding: self.bytes[start..<self.index], as: UTF8.self)
        }

        /// Skips attributes up to `>`; returns whether the tag was `/>`.
        mutating func skipAttributes() throws -> Bool {
            var quote: UInt8?
            while self.index < self.bytes.count {
                let byte = self.bytes[self.index]
                self.index += 1
                if let open = quote {
                    if byte == open { quote = nil }
                } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    quote = byte
                } else if byte == UInt8(ascii: ">") {
                    return self.index >= 2 && self.bytes[self.index - 2] == UInt8(ascii: "/")
                }
            }
            throw XMLParseError(offset: self.index, reason: "unterminated tag")
        }

        static func localName(_ name: String) -> String {
            guard let colon = name.lastIndex(of: ":") else { return name }
            return String(name[name.index(after: colon)...])
        }

        static func decodeEntities(_ bytes: [UInt8], offset: Int) throws -> String {
            guard bytes.contains(UInt8(ascii: "&")) else { return String(decoding: bytes, as: UTF8.self) }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var index = 0
            while index < bytes.count {
                guard bytes[index] == UInt8(ascii: "&") else {
                    out.append(bytes[index])
                    index += 1
                    continue
                }
                guard let end = bytes[index...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else {
                    throw XMLParseError(offset: offset, reason: "unterminated entity")
                }
                let entity = String(decoding: bytes[(index + 1)..<end], as: UTF8.self)
                switch entity {
                case "amp": out.append(UInt8(ascii: "&"))
                case "lt": out.append(UInt8(ascii: "<"))
                case "gt": out.append(UInt8(ascii: ">"))
                case "quot": out.append(UInt8(ascii: "\""))
                case "apos": out.append(UInt8(ascii: "'"))
                default:
                    let scalarValue: UInt32?
                    if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                        scalarValue = UInt32(entity.dropFirst(2), radix: 16)
                    } else if entity.hasPrefix("#") {
                        scalarValue = UInt32(entity.dropFirst(), radix: 10)
                    } else {
                        scalarValue = nil
                    }
                    guard let scalarValue, let scalar = Unicode.Scalar(scalarValue) else {
                        throw XMLParseError(offset: offset, reason: "unknown entity &\(entity);")
                    }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                }
                index = end + 1
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
