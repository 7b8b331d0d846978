/// What a pattern requires of one field: one of `matchers` holds for one of its values, or (when
/// `matchesAbsence`, from `{"exists": false}`) the field has no value at all.
struct FieldSpec: Sendable {
    var matchers: [ValueMatcher] = []
    var matchesAbsence = false
}

/// One alternative of a pattern after `$or` expansion: every field must be satisfied.
/// Fields are keyed by their dotted path (`detail.object.key`), in first-written order.
struct SubRule: Sendable {
    var fields: [(path: String, spec: FieldSpec)] = []

    /// Sets a field; a later occurrence of the same path replaces the earlier one.
    mutating func set(_ path: String, _ spec: FieldSpec) {
        if let index = fields.firstIndex(where: { utf8Equal($0.path, path) }) {
            fields[index].spec = spec
        } else {
            fields.append((path: path, spec: spec))
        }
    }
}

/// Validates a pattern and expands it into sub-rules, refusing exactly what the EventBridge pattern
/// language (as implemented by event-ruler) refuses:
///
/// - the pattern and every nested object must be non-empty objects; a field's value is an object
///   (nesting) or a non-empty array of match values;
/// - match values are strings, numbers, `true`, `false`, `null` or one-operator match objects;
/// - `$or` takes an array of at least two non-empty objects, and inside it field names that are
///   operators (`prefix`, `numeric`, `=`, …) are refused, since they signal a misplaced operator;
/// - operator operands are checked (`numeric` grammar and bounds, `cidr` syntax, `wildcard` escapes,
///   `anything-but` forms, …).
struct PatternCompiler {
    /// The most alternatives a pattern may expand to (`$or` arrays multiply).
    static let maxSubRules = 1024

    /// Field names refused inside `$or` branches: operators and names reserved for future ones.
    static let reservedInOr: Set<String> = [
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists", "wildcard", "numeric",
        "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard", "not-equals-ignore-case", "date-after",
        "date-on-or-after", "date-before", "date-on-or-before", "in-date-range", "ip-address-in-range",
        "ip-address-not-in-range",
    ]

    static let operatorList = "prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr or exactly"

    static func compile(_ pattern: JSONValue) throws(EventPatternError) -> [SubRule] {
        guard case .object(let members) = pattern else {
            throw invalid(.root, "a pattern must be a JSON object, found \(article(pattern.typeName))")
        }
        var rules: [SubRule] = []
        try parseObject(members, fieldPath: [], errorPath: .root, insideOr: false, depth: 1, rules: &rules)
        return rules
    }

    private static func parseObject(
        _ members: [(key: String, value: JSONValue)],
        fieldPath: [String],
        errorPath: PatternPath,
        insideOr: Bool,
        depth: Int,
        rules: inout [SubRule]
    ) throws(EventPatternError) {
        // Patterns from the parser are already shallower; this guards patterns built in code.
        guard depth <= JSONValue.maxSupportedDepth else {
            throw invalid(errorPath, "the pattern nests deeper than \(JSONValue.maxSupportedDepth) objects")
        }
        guard !members.isEmpty else {
            throw invalid(errorPath, "empty objects are not allowed; give at least one field")
        }
        for (key, value) in members {
            let here = errorPath.key(key)
            if key == "$or" {
                try parseOr(value, fieldPath: fieldPath, errorPath: here, depth: depth, rules: &rules)
                continue
            }
            if insideOr, reservedInOr.contains(key) {
                throw invalid(
                    here,
                    "\"\(key)\" is an operator, not a field name; inside $or each branch is an object of fields, e.g. {\"field\": [{\"\(key)\": …}]}"
                )
            }
            switch value {
            case .object(let nested):
                try parseObject(
                    nested, fieldPath: fieldPath + [key], errorPath: here, insideOr: insideOr, depth: depth + 1, rules: &rules
                )
            case .array(let elements):
                let spec = try parseValueList(elements, errorPath: here)
                let path = (fieldPath + [key]).joined(separator: ".")
                if rules.isEmpty { rules.append(SubRule()) }
                for index in rules.indices { rules[index].set(path, spec) }
            default:
                throw invalid(
                    here,
                    "a field must be an object (to match nested fields) or an array of values, found \(article(value.typeName)); write [\(value.serialized())] to match the value"
                )
            }
        }
    }

    private static func parseOr(
        _ value: JSONValue,
        fieldPath: [String],
        errorPath: PatternPath,
        depth: Int,
        rules: inout [SubRule]
    ) throws(EventPatternError) {
        guard case .array(let branches) = value else {
            throw invalid(errorPath, "$or must be an array of at least two objects, found \(article(value.typeName))")
        }
        let before = rules
        var after: [SubRule] = []
        for (index, branch) in branches.enumerated() {
            guard case .object(let members) = branch else {
                throw invalid(
                    errorPath.index(index),
                    "each element of $or must be an object of fields, found \(article(branch.typeName))"
                )
            }
            var branchRules = before.isEmpty ? [SubRule()] : before
            try parseObject(
                members, fieldPath: fieldPath, errorPath: errorPath.index(index), insideOr: true, depth: depth + 2,
                rules: &branchRules
            )
            after.append(contentsOf: branchRules)
            guard after.count <= maxSubRules else {
                throw EventPatternError(
                    kind: .tooComplex,
                    path: errorPath.text,
                    message: "the pattern expands to more than \(maxSubRules) alternatives ($or arrays multiply); simplify it"
                )
            }
        }
        guard branches.count >= 2 else {
            throw invalid(errorPath, "$or needs at least two objects, found \(branches.count)")
        }
        rules = after
    }

    // MARK: Values

    private static func parseValueList(_ elements: [JSONValue], errorPath: PatternPath) throws(EventPatternError) -> FieldSpec {
        guard !elements.isEmpty else {
            throw invalid(errorPath, "empty arrays are not allowed; list at least one value or match object")
        }
        var spec = FieldSpec()
        for (index, element) in elements.enumerated() {
            let here = errorPath.index(index)
            switch element {
            case .string(let string):
                if let address = IPAddress(string) {
                    spec.matchers.append(.ipAddress(address))
                } else {
                    spec.matchers.append(.exactString(string))
                }
            case .number(let number):
                spec.matchers.append(.exactNumber(text: number.text, key: number.comparableKey))
            case .bool(let flag):
                spec.matchers.append(.exactBool(flag))
            case .null:
                spec.matchers.append(.exactNull)
            case .object(let members):
                if let matcher = try parseMatchObject(members, errorPath: here) {
                    spec.matchers.append(matcher)
                } else {
                    spec.matchesAbsence = true
                }
            case .array:
                throw invalid(here, "a match value must be a string, number, true, false, null or a match object, found an array")
            }
        }
        return spec
    }

    /// A match object's matcher, or `nil` for `{"exists": false}`.
    private static func parseMatchObject(
        _ members: [(key: String, value: JSONValue)],
        errorPath: PatternPath
    ) throws(EventPatternError) -> ValueMatcher? {
        guard let (name, operand) = members.first else {
            throw invalid(errorPath, "a match object needs an operator: \(operatorList)")
        }
        let here = errorPath.key(name)
        guard members.count == 1 else {
            let names = members.map { "\"\($0.key)\"" }.joined(separator: ", ")
            throw invalid(errorPath, "a match object takes exactly one operator, found \(names)")
        }
        switch name {
        case "exactly":
            return .exactString(try string(operand, here, "exactly"))
        case "prefix":
            if case .object(let nested) = operand {
                return .prefixIgnoreCase(try ignoreCaseOperand(nested, here, "prefix"))
            }
            return .prefix(try string(operand, here, "prefix"))
        case "suffix":
            if case .object(let nested) = operand {
                return .suffixIgnoreCase(try ignoreCaseOperand(nested, here, "suffix"))
            }
            return .suffix(try string(operand, here, "suffix"))
        case "equals-ignore-case":
            return .equalsIgnoreCase(CaseFoldedPattern(try string(operand, here, "equals-ignore-case")))
        case "wildcard":
            return .wildcard(try wildcard(try string(operand, here, "wildcard"), here))
        case "numeric":
            return .numeric(try numericRange(operand, here))
        case "anything-but":
            return .anythingBut(try exclusions(operand, here))
        case "exists":
            guard case .bool(let flag) = operand else {
                throw invalid(here, "exists takes true or false, found \(article(operand.typeName))")
            }
            return flag ? .exists : nil
        case "cidr":
            let text = try string(operand, here, "cidr")
            switch IPRange.parseCIDR(text) {
            case .success(let range): return .cidr(range)
            case .failure(let error): throw invalid(here, error.message)
            }
        default:
            throw invalid(here, "unknown operator \"\(name)\"; use \(operatorList)")
        }
    }

    /// `{"equals-ignore-case": "text"}` inside `prefix` / `suffix`.
    private static func ignoreCaseOperand(
        _ members: [(key: String, value: JSONValue)],
        _ path: PatternPath,
        _ operatorName: String
    ) throws(EventPatternError) -> CaseFoldedPattern {
        guard let (name, operand) = members.first else {
            throw invalid(path, "\(operatorName) takes a string or {\"equals-ignore-case\": string}, found an empty object")
        }
        guard name == "equals-ignore-case" else {
            throw invalid(path.key(name), "\(operatorName) only combines with equals-ignore-case, not \"\(name)\"")
        }
        guard members.count == 1 else {
            throw invalid(path, "\(operatorName) takes exactly one operator object, {\"equals-ignore-case\": string}")
        }
        return CaseFoldedPattern(try string(operand, path.key(name), "equals-ignore-case"))
    }

    private static func string(_ value: JSONValue, _ path: PatternPath, _ operatorName: String) throws(EventPatternError) -> String {
        guard case .string(let text) = value else {
            throw invalid(path, "\(operatorName) takes a string, found \(article(value.typeName))")
        }
        return text
    }

    private static func wildcard(_ text: String, _ path: PatternPath) throws(EventPatternError) -> WildcardPattern {
        do {
            return try WildcardPattern(text)
        } catch {
            throw invalid(path, "wildcard \(quoted(text)): \(error.message)")
        }
    }

    // MARK: numeric

    private static func numericRange(_ operand: JSONValue, _ path: PatternPath) throws(EventPatternError) -> NumericRange {
        let usage = "numeric takes [\"=\", n], [\"<\" or \"<=\", n], [\">\" or \">=\", n] or [\">\" or \">=\", low, \"<\" or \"<=\", high]"
        guard case .array(let terms) = operand else {
            throw invalid(path, "\(usage), found \(article(operand.typeName))")
        }
        guard let first = terms.first, case .string(let op) = first else {
            throw invalid(path, "\(usage); the first element must be an operator string")
        }
        func bound(_ position: Int) throws(EventPatternError) -> UInt64 {
            guard position < terms.count else {
                throw invalid(path, "numeric operator \"\(terms[position - 1].stringValue ?? "")\" needs a number after it")
            }
            guard case .number(let number) = terms[position] else {
                throw invalid(path.index(position), "numeric bounds must be numbers, found \(article(terms[position].typeName)) \(terms[position].serialized())")
            }
            guard let key = number.comparableKey else {
                throw invalid(
                    path.index(position),
                    "\(number.text) cannot be compared as a number: a bound must be a finite number that a double holds exactly (not 1e400, and no more digits than a double keeps)"
                )
            }
            return key
        }
        func noMore(after position: Int) throws(EventPatternError) {
            guard terms.count <= position + 1 else {
                throw invalid(path.index(position + 1), "too many elements in numeric expression; \(usage)")
            }
        }
        switch op {
        case "=":
            let key = try bound(1)
            try noMore(after: 1)
            return .equals(key)
        case "<", "<=":
            let key = try bound(1)
            try noMore(after: 1)
            return NumericRange(lower: nil, lowerOpen: false, upper: key, upperOpen: op == "<")
        case ">", ">=":
            let low = try bound(1)
            var range = NumericRange(lower: low, lowerOpen: op == ">", upper: nil, upperOpen: false)
            guard terms.count > 2 else { return range }
            guard case .string(let upperOp) = terms[2], upperOp == "<" || upperOp == "<=" else {
                throw invalid(path.index(2), "after a lower bound only \"<\" or \"<=\" may follow, found \(terms[2].serialized())")
            }
            let high = try bound(3)
            try noMore(after: 3)
            guard low < high else {
                throw invalid(path, "the lower bound must be less than the upper bound")
            }
            range.upper = high
            range.upperOpen = upperOp == "<"
            return range
        default:
            throw invalid(path.index(0), "\(quoted(op)) is not a numeric operator; use =, <, <=, > or >=")
        }
    }

    // MARK: anything-but

    private static func exclusions(_ operand: JSONValue, _ path: PatternPath) throws(EventPatternError) -> Exclusions {
        switch operand {
        case .string(let text):
            return .strings([text])
        case .number(let number):
            return .numbers([try comparable(number, path)])
        case .array(let elements):
            var strings: [String] = []
            var numbers: [UInt64] = []
            for (index, element) in elements.enumerated() {
                switch element {
                case .string(let text): strings.append(text)
                case .number(let number): numbers.append(try comparable(number, path.index(index)))
                default:
                    throw invalid(path.index(index), "an anything-but list holds strings or numbers, found \(article(element.typeName))")
                }
            }
            guard strings.isEmpty != numbers.isEmpty else {
                throw invalid(
                    path,
                    elements.isEmpty
                        ? "an anything-but list must not be empty"
                        : "an anything-but list must hold only strings or only numbers, not both"
                )
            }
            return strings.isEmpty ? .numbers(numbers) : .strings(strings)
        case .object(let members):
            guard let (name, inner) = members.first else {
                throw invalid(path, "anything-but takes a value, a list, or an object with prefix, suffix, equals-ignore-case or wildcard")
            }
            guard members.count == 1 else {
                throw invalid(path, "an anything-but object takes exactly one operator")
            }
            let here = path.key(name)
            guard ["prefix", "suffix", "equals-ignore-case", "wildcard"].contains(name) else {
                throw invalid(here, "anything-but supports prefix, suffix, equals-ignore-case and wildcard, not \(quoted(name))")
            }
            let texts: [String]
            switch inner {
            case .string(let text):
                texts = [text]
            case .array(let elements):
                var collected: [String] = []
                for (index, element) in elements.enumerated() {
                    guard case .string(let text) = element else {
                        throw invalid(here.index(index), "anything-but \(name) values must be strings, found \(article(element.typeName))")
                    }
                    collected.append(text)
                }
                texts = collected
            default:
                throw invalid(here, "anything-but \(name) takes a string or a list of strings, found \(article(inner.typeName))")
            }
            switch name {
            case "prefix", "suffix":
                if let empty = texts.firstIndex(of: "") {
                    let at = inner.arrayValue == nil ? here : here.index(empty)
                    throw invalid(at, "an empty anything-but \(name) is not allowed (it would exclude every string)")
                }
                return name == "prefix" ? .prefixes(texts) : .suffixes(texts)
            case "equals-ignore-case":
                return .ignoringCase(texts.map(CaseFoldedPattern.init))
            default:
                var patterns: [WildcardPattern] = []
                for text in texts { patterns.append(try wildcard(text, here)) }
                return .wildcards(patterns)
            }
        default:
            throw invalid(path, "anything-but takes a string, a number, a list, or an object, found \(article(operand.typeName))")
        }
    }

    private static func comparable(_ number: JSONNumber, _ path: PatternPath) throws(EventPatternError) -> UInt64 {
        guard let key = number.comparableKey else {
            throw invalid(
                path,
                "\(number.text) cannot be compared as a number: it must be a finite number that a double holds exactly (not 1e400, and no more digits than a double keeps)"
            )
        }
        return key
    }

    // MARK: Helpers

    private static func invalid(_ path: PatternPath, _ message: String) -> EventPatternError {
        EventPatternError(kind: .invalid, path: path.text, message: message)
    }

    private static func article(_ typeName: String) -> String {
        typeName == "array" || typeName == "object" ? "an \(typeName)" : "a \(typeName)"
    }

    private static func quoted(_ text: String) -> String {
        var bytes: [UInt8] = []
        appendQuoted(text, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
