import ClickHouseNative
import Parquet

/// How a Parquet leaf's values become values of a ClickHouse scalar type. Only lossless conversions exist: a type
/// pair that could lose information is refused when the plan is made, and a value that does not fit fails the row.
enum ScalarConversion: Sendable {
    /// The Parquet layout already is the Native layout (`width` bytes, little-endian).
    case copy(width: Int)
    /// An integer-like source (BOOLEAN, INT32/INT64 signed or unsigned, unscaled decimals) to an integer-like target.
    case integer(IntegerSource, IntegerTarget)
    /// DATE (days) to Date, Date32, DateTime or DateTime64.
    case date(DateTarget)
    /// TIMESTAMP ticks (`perSecond` per second) to DateTime or DateTime64.
    case timestamp(perSecond: Int64, TimeTarget)
    /// INT96 timestamps to DateTime or DateTime64.
    case int96(TimeTarget)
    /// FLOAT to Float64.
    case float32ToFloat64
    /// FLOAT16 to Float32 (`toDouble == false`) or Float64.
    case float16(toDouble: Bool)
    /// BYTE_ARRAY to String, FixedString(N) or an enum (by member name).
    case bytes(BytesTarget)
    /// FIXED_LEN_BYTE_ARRAY(n) to FixedString(N >= n), String, UUID or IPv6.
    case fixedBytes(length: Int, FixedTarget)

    enum IntegerSource: Sendable {
        case boolean, int32, uint32, int64, uint64
        /// Big-endian two's complement of at most 16 bytes (decimals on BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY).
        case bigEndian
    }

    enum IntegerTarget: Sendable {
        case integer(width: Int, signed: Bool)
        case bool
        case float32
        case float64
        /// The source scaled by 10^scaleUp must have at most `precision` digits; written in `width` bytes.
        case decimal(precision: Int, scaleUp: Int, width: Int)
    }

    enum DateTarget: Sendable {
        case date, dateTime
        case dateTime64(precision: Int)
    }

    enum TimeTarget: Sendable {
        case dateTime
        case dateTime64(precision: Int)
    }

    enum BytesTarget: Sendable {
        case string
        case fixedString(Int)
        case enumeration(codes: [[UInt8]: Int], width: Int)
        /// Decimals wider than 16 bytes into Decimal256 of the same scale: sign-extended, byte order reversed.
        case wideDecimal
    }

    enum FixedTarget: Sendable {
        case fixedString(Int)
        case string
        case uuid
        case ipv6
        case wideDecimal
    }

    // MARK: Planning

    /// The conversion from `node`'s values to `target` (a scalar type without Nullable/LowCardinality wrappers).
    static func make(node: ParquetSchemaNode, target: ClickHouseType) throws(CompileError) -> ScalarConversion {
        guard let physical = node.physicalType else { throw CompileError(reason: "not a leaf") }
        let logical = node.logicalType
        func refuse(_ why: String? = nil) -> CompileError {
            CompileError(reason: why ?? "\(describe(node)) cannot be converted to \(target) without loss")
        }
        switch (physical, logical) {
        case (.int32, .time?), (.int64, .time?):
            throw refuse("TIME values have no ClickHouse column type here")
        case (.int32, .date?):
            switch target {
            case .date32: return .copy(width: 4)
            case .date: return .date(.date)
            case .dateTime: return .date(.dateTime)
            case .dateTime64(let precision, _): return .date(.dateTime64(precision: precision))
            default: throw refuse()
            }
        case (.int64, .timestamp(let unit, _)?):
            switch target {
            case .dateTime64(let precision, _):
                return precision == unit.fractionDigits ? .copy(width: 8) : .timestamp(perSecond: unit.perSecond, .dateTime64(precision: precision))
            case .dateTime: return .timestamp(perSecond: unit.perSecond, .dateTime)
            default: throw refuse()
            }
        case (.int96, _):
            switch target {
            case .dateTime64(let precision, _): return .int96(.dateTime64(precision: precision))
            case .dateTime: return .int96(.dateTime)
            default: throw refuse()
            }
        case (.int32, .decimal(let p, let s)?), (.int64, .decimal(let p, let s)?),
            (.byteArray, .decimal(let p, let s)?), (.fixedLenByteArray, .decimal(let p, let s)?):
            let source: IntegerSource = physical == .int32 ? .int32 : physical == .int64 ? .int64 : .bigEndian
            if (physical == .fixedLenByteArray && (node.typeLength ?? 0) > 16) || (physical == .byteArray && p > 38) {
                // Wider than Int128: only a same-scale Decimal256 can take the bytes unchanged.
                guard case .decimal(let precision, let scale) = target, scale == s, precision - scale >= p - s,
                    ClickHouseType.decimalWidth(precision: precision) == 32
                else { throw refuse() }
                return physical == .byteArray ? .bytes(.wideDecimal) : .fixedBytes(length: node.typeLength ?? 0, .wideDecimal)
            }
            if case .decimal(let precision, let scale) = target {
                guard scale >= s, precision - scale >= p - s else {
                    throw refuse("DECIMAL(\(p),\(s)) does not fit \(target): the scale or the integer digits would shrink")
                }
                let width = ClickHouseType.decimalWidth(precision: precision)
                if scale == s, width == 4, physical == .int32 { return .copy(width: 4) }
                if scale == s, width == 8, physical == .int64 { return .copy(width: 8) }
                guard precision <= 38 || scale - s <= 18 else { throw refuse("the scale difference is too large") }
                return .integer(source, .decimal(precision: precision, scaleUp: scale - s, width: width))
            }
            let limit = p <= 38 ? powersOfTen[p] - 1 : Int128.max
            guard s == 0, let integerTarget = integerTarget(target, covering: -limit...limit) else { throw refuse() }
            return .integer(source, integerTarget)
        case (.boolean, _):
            if target == .bool { return .copy(width: 1) }
            guard let integerTarget = integerTarget(target, covering: 0...1) else { throw refuse() }
            return .integer(.boolean, integerTarget)
        case (.int32, _), (.int64, _):
            var source: IntegerSource = physical == .int32 ? .int32 : .int64
            if case .integer(_, let signed)? = logical, !signed { source = physical == .int32 ? .uint32 : .uint64 }
            if case .integer(let bits, let signed)? = logical, bits == 32, physical == .int32,
                target == (signed ? .int32 : .uint32) { return .copy(width: 4) }
            if logical == nil || logical == .integer(bitWidth: 32, isSigned: true) || logical == .integer(bitWidth: 64, isSigned: true) {
                if physical == .int32, target == .int32 { return .copy(width: 4) }
                if physical == .int64, target == .int64 { return .copy(width: 8) }
            }
            if physical == .int64, logical == .integer(bitWidth: 64, isSigned: false), target == .uint64 { return .copy(width: 8) }
            var bits = physical == .int32 ? 32 : 64
            var signed = true
            if case .integer(let width, let isSigned)? = logical {
                bits = width
                signed = isSigned
            }
            let range: ClosedRange<Int128> = signed
                ? -(Int128(1) << (bits - 1))...((Int128(1) << (bits - 1)) - 1) : 0...((Int128(1) << bits) - 1)
            guard let integerTarget = integerTarget(target, covering: range) else {
                throw refuse("\(describe(node)) does not fit \(target) for every value (only widening is lossless)")
            }
            return .integer(source, integerTarget)
        case (.float, _):
            if target == .float32 { return .copy(width: 4) }
            if target == .float64 { return .float32ToFloat64 }
            throw refuse()
        case (.double, _):
            if target == .float64 { return .copy(width: 8) }
            throw refuse()
        case (.fixedLenByteArray, .float16?):
            if target == .float32 { return .float16(toDouble: false) }
            if target == .float64 { return .float16(toDouble: true) }
            throw refuse()
        case (.byteArray, _):
            switch target {
            case .string: return .bytes(.string)
            case .fixedString(let n): return .bytes(.fixedString(n))
            case .enum8(let members), .enum16(let members):
                var codes: [[UInt8]: Int] = [:]
                for member in members { codes[Array(member.name.utf8)] = member.value }
                return .bytes(.enumeration(codes: codes, width: target.fixedWidth ?? 1))
            default: throw refuse()
            }
        case (.fixedLenByteArray, _):
            let length = node.typeLength ?? 0
            switch target {
            case .fixedString(let n) where n >= length: return .fixedBytes(length: length, .fixedString(n))
            case .string: return .fixedBytes(length: length, .string)
            case .uuid where length == 16: return .fixedBytes(length: 16, .uuid)
            case .ipv6 where length == 16: return .fixedBytes(length: 16, .ipv6)
            default: throw refuse()
            }
        }
    }

    /// The integer-like target when it holds every value of `range` exactly, else `nil`.
    static func integerTarget(_ target: ClickHouseType, covering range: ClosedRange<Int128>) -> IntegerTarget? {
        guard let candidate = integerTarget(target) else { return nil }
        let holds: ClosedRange<Int128>
        switch candidate {
        case .integer(let width, let signed):
            if width >= 16 { holds = signed ? Int128.min...Int128.max : 0...Int128.max } else {
                let bits = Int128(width * 8)
                holds = signed ? -(Int128(1) << (bits - 1))...((Int128(1) << (bits - 1)) - 1) : 0...((Int128(1) << bits) - 1)
            }
        case .bool: holds = 0...1
        case .float32: holds = -(1 << 24)...(1 << 24)
        case .float64: holds = -(1 << 53)...(1 << 53)
        case .decimal(let precision, let scaleUp, _):
            let digits = precision - scaleUp
            guard digits > 0 else { return nil }
            let limit = digits >= 38 ? Int128.max : powersOfTen[digits] - 1
            holds = -limit...limit
        }
        return holds.contains(range.lowerBound) && holds.contains(range.upperBound) ? candidate : nil
    }

    static func integerTarget(_ target: ClickHouseType) -> IntegerTarget? {
        switch target {
        case .int8: return .integer(width: 1, signed: true)
        case .int16: return .integer(width: 2, signed: true)
        case .int32: return .integer(width: 4, signed: true)
        case .int64: return .integer(width: 8, signed: true)
        case .int128: return .integer(width: 16, signed: true)
        case .int256: return .integer(width: 32, signed: true)
        case .uint8: return .integer(width: 1, signed: false)
        case .uint16: return .integer(width: 2, signed: false)
        case .uint32: return .integer(width: 4, signed: false)
        case .uint64: return .integer(width: 8, signed: false)
        case .uint128: return .integer(width: 16, signed: false)
        case .uint256: return .integer(width: 32, signed: false)
        case .bool: return .bool
        case .float32: return .float32
        case .float64: return .float64
        case .decimal(let precision, let scale):
            guard precision <= 38 || scale <= 18 else { return nil }
            return .decimal(precision: precision, scaleUp: scale, width: ClickHouseType.decimalWidth(precision: precision))
        default: return nil
        }
    }

    // MARK: Conversion

    struct Failure: Error {
        var slot: Int
        var reason: String
    }

    /// Converts the values at `indexes` (one per output row; -1 gives the type's default; `nil` means value i for
    /// row i of `count` rows) into column data of the scalar target type.
    func convert(_ values: ParquetValueBuffer, indexes given: [Int32]?, count: Int, target: ClickHouseType) throws(Failure) -> NativeColumnData {
        // The common case, a column without NULLs whose layout is already ClickHouse's: one shared buffer, no copy here.
        if given == nil, case .copy(let width) = self, let buffer = try? FixedWidthBuffer(width: width, bytes: values.bytes) {
            return .fixed(buffer)
        }
        if given == nil, case .bytes(.string) = self, values.offsets.count == values.count + 1, values.offsets.first == 0,
            let buffer = try? StringBuffer(bytes: values.bytes, endOffsets: Array(values.offsets.dropFirst()))
        {
            return .strings(buffer)
        }
        let indexes = given ?? (0..<Int32(count)).map { $0 }
        return try convert(values, indexes: indexes, target: target)
    }

    func convert(_ values: ParquetValueBuffer, indexes: [Int32], target: ClickHouseType) throws(Failure) -> NativeColumnData {
        let count = indexes.count
        switch self {
        case .copy(let width):
            var out = [UInt8](repeating: 0, count: count * width)
            values.bytes.withUnsafeBytes { source in
                out.withUnsafeMutableBytes { destination in
                    for (row, index) in indexes.enumerated() where index >= 0 {
                        destination.baseAddress!.advanced(by: row * width)
                            .copyMemory(from: source.baseAddress!.advanced(by: Int(index) * width), byteCount: width)
                    }
                }
            }
            return .fixed(try! FixedWidthBuffer(width: width, bytes: out))

        case .integer(let source, let integerTarget):
            return try Self.convertIntegers(values, indexes: indexes, source: source, target: integerTarget)

        case .date(let dateTarget):
            return try Self.convertDates(values, indexes: indexes, target: dateTarget)

        case .timestamp(let perSecond, let timeTarget):
            return try Self.convertTicks(count: count, target: timeTarget, perSecond: perSecond) { (slot) throws(Failure) -> Int64? in
                let index = indexes[slot]
                return index < 0 ? nil : values.int64(at: Int(index))
            }

        case .int96(let timeTarget):
            return try Self.convertTicks(count: count, target: timeTarget, perSecond: 1_000_000_000) { (slot) throws(Failure) -> Int64? in
                let index = indexes[slot]
                guard index >= 0 else { return nil }
                let (day, nanos) = values.int96(at: Int(index)).epochDayAndNanos
                let (dayNanos, overflow) = day.multipliedReportingOverflow(by: 86_400_000_000_000)
                let (total, overflow2) = dayNanos.addingReportingOverflow(nanos)
                if overflow || overflow2 { throw Failure(slot: slot, reason: "INT96 timestamp is out of range") }
                return total
            }

        case .float32ToFloat64:
            var out = FixedWidthBuffer(width: 8, capacity: count)
            for index in indexes { out.append(index < 0 ? 0 : Double(values.float(at: Int(index)))) }
            return .fixed(out)

        case .float16(let toDouble):
            var out = FixedWidthBuffer(width: toDouble ? 8 : 4, capacity: count)
            for index in indexes {
                var value: Float = 0
                if index >= 0 {
                    let raw = values.valueBytes(at: Int(index))
                    value = Self.halfToFloat(UInt16(raw[raw.startIndex]) | UInt16(raw[raw.startIndex + 1]) << 8)
                }
                if toDouble { out.append(Double(value)) } else { out.append(value) }
            }
            return .fixed(out)

        case .bytes(let bytesTarget):
            return try Self.convertBytes(values, indexes: indexes, target: bytesTarget)

        case .fixedBytes(let length, let fixedTarget):
            return try Self.convertFixedBytes(values, indexes: indexes, length: length, target: fixedTarget)
        }
    }

    static func readInteger(_ values: ParquetValueBuffer, _ index: Int, _ source: IntegerSource) -> Int128? {
        switch source {
        case .boolean: return values.boolean(at: index) ? 1 : 0
        case .int32: return Int128(values.int32(at: index))
        case .uint32: return Int128(UInt32(bitPattern: values.int32(at: index)))
        case .int64: return Int128(values.int64(at: index))
        case .uint64: return Int128(UInt64(bitPattern: values.int64(at: index)))
        case .bigEndian:
            let bytes = values.valueBytes(at: index)
            guard !bytes.isEmpty, bytes.count <= 16 else { return bytes.isEmpty ? 0 : nil }
            var value: Int128 = bytes[bytes.startIndex] & 0x80 != 0 ? -1 : 0
            for byte in bytes { value = (value << 8) | Int128(byte) }
            return value
        }
    }

    static let powersOfTen: [Int128] = {
        var result: [Int128] = [1]
        for _ in 1...38 { result.append(result.last! * 10) }
        return result
    }()

    static func convertIntegers(
        _ values: ParquetValueBuffer, indexes: [Int32], source: IntegerSource, target: IntegerTarget
    ) throws(Failure) -> NativeColumnData {
        let width: Int
        var low: Int128 = .min
        var high: Int128 = .max
        var multiplier: Int128 = 1
        switch target {
        case .integer(let w, let signed):
            width = w
            if w < 16 {
                let bits = Int128(w * 8)
                low = signed ? -(Int128(1) << (bits - 1)) : 0
                high = signed ? (Int128(1) << (bits - 1)) - 1 : (Int128(1) << bits) - 1
            } else if !signed {
                low = 0
            }
        case .bool:
            width = 1
            low = 0
            high = 1
        case .float32:
            width = 4
            low = -(1 << 24)
            high = 1 << 24
        case .float64:
            width = 8
            low = -(1 << 53)
            high = 1 << 53
        case .decimal(let precision, let scaleUp, let w):
            width = w
            multiplier = powersOfTen[min(scaleUp, 38)]
            if precision < 38 {
                high = powersOfTen[precision] - 1
                low = -high
            }
        }
        var out = FixedWidthBuffer(width: width, capacity: indexes.count)
        var raw = [UInt8](repeating: 0, count: 32)
        for (slot, index) in indexes.enumerated() {
            var value: Int128 = 0
            if index >= 0 {
                guard let read = readInteger(values, Int(index), source) else {
                    throw Failure(slot: slot, reason: "the decimal is wider than 16 bytes")
                }
                let (scaled, overflow) = read.multipliedReportingOverflow(by: multiplier)
                guard !overflow, scaled >= low, scaled <= high else {
                    throw Failure(slot: slot, reason: "value \(read) is out of the range of the column type")
                }
                value = scaled
            }
            switch target {
            case .float32: out.append(Float(value))
            case .float64: out.append(Double(value))
            default:
                withUnsafeBytes(of: value.littleEndian) { bytes in
                    for i in 0..<16 { raw[i] = bytes[i] }
                }
                let fill: UInt8 = value < 0 ? 0xFF : 0
                for i in 16..<32 { raw[i] = fill }
                try! out.append(littleEndianBytes: Array(raw[0..<width]))
            }
        }
        return .fixed(out)
    }

    static func convertDates(_ values: ParquetValueBuffer, indexes: [Int32], target: DateTarget) throws(Failure) -> NativeColumnData {
        switch target {
        case .date:
            var out = FixedWidthBuffer(width: 2, capacity: indexes.count)
            for (slot, index) in indexes.enumerated() {
                let days = index < 0 ? 0 : Int(values.int32(at: Int(index)))
                guard (0...65535).contains(days) else {
                    throw Failure(slot: slot, reason: "date \(days) days from 1970-01-01 is outside the Date range 1970-01-01...2149-06-06")
                }
                out.append(UInt16(days))
            }
            return .fixed(out)
        case .dateTime:
            var out = FixedWidthBuffer(width: 4, capacity: indexes.count)
            for (slot, index) in indexes.enumerated() {
                let seconds = index < 0 ? 0 : Int64(values.int32(at: Int(index))) * 86_400
                guard (0...Int64(UInt32.max)).contains(seconds) else {
                    throw Failure(slot: slot, reason: "date is outside the DateTime range 1970-01-01...2106-02-07")
                }
                out.append(UInt32(seconds))
            }
            return .fixed(out)
        case .dateTime64(let precision):
            let scale = Int64(powersOfTen[precision])
            var out = FixedWidthBuffer(width: 8, capacity: indexes.count)
            for (slot, index) in indexes.enumerated() {
                let days = index < 0 ? 0 : Int64(values.int32(at: Int(index)))
                let (ticks, overflow) = (days * 86_400).multipliedReportingOverflow(by: scale)
                if overflow { throw Failure(slot: slot, reason: "date is outside the DateTime64 range") }
                out.append(ticks)
            }
            return .fixed(out)
        }
    }

    static func convertTicks(
        count: Int, target: TimeTarget, perSecond: Int64, read: (Int) throws(Failure) -> Int64?
    ) throws(Failure) -> NativeColumnData {
        switch target {
        case .dateTime:
            var out = FixedWidthBuffer(width: 4, capacity: count)
            for slot in 0..<count {
                let ticks = try read(slot) ?? 0
                guard ticks % perSecond == 0 else {
                    throw Failure(slot: slot, reason: "timestamp has a fraction of a second, which DateTime cannot hold")
                }
                let seconds = ticks / perSecond
                guard (0...Int64(UInt32.max)).contains(seconds) else {
                    throw Failure(slot: slot, reason: "timestamp is outside the DateTime range 1970-01-01...2106-02-07")
                }
                out.append(UInt32(seconds))
            }
            return .fixed(out)
        case .dateTime64(let precision):
            let targetPerSecond = Int64(powersOfTen[precision])
            var out = FixedWidthBuffer(width: 8, capacity: count)
            for slot in 0..<count {
                let ticks = try read(slot) ?? 0
                var value = ticks
                if targetPerSecond >= perSecond {
                    let (scaled, overflow) = ticks.multipliedReportingOverflow(by: targetPerSecond / perSecond)
                    if overflow { throw Failure(slot: slot, reason: "timestamp is outside the DateTime64(\(precision)) range") }
                    value = scaled
                } else {
                    let divisor = perSecond / targetPerSecond
                    guard ticks % divisor == 0 else {
                        throw Failure(slot: slot, reason: "timestamp has more precision than DateTime64(\(precision)) holds")
                    }
                    value = ticks / divisor
                }
                out.append(value)
            }
            return .fixed(out)
        }
    }

    static func convertBytes(_ values: ParquetValueBuffer, indexes: [Int32], target: BytesTarget) throws(Failure) -> NativeColumnData {
        switch target {
        case .string:
            var out = StringBuffer(capacity: indexes.count, byteCapacity: values.bytes.count)
            values.bytes.withUnsafeBytes { source in
                for index in indexes {
                    if index < 0 {
                        out.appendEmpty()
                    } else {
                        let range = values.byteRange(at: Int(index))
                        out.append(raw: UnsafeRawBufferPointer(rebasing: source[range]))
                    }
                }
            }
            return .strings(out)
        case .fixedString(let n):
            var out = [UInt8](repeating: 0, count: indexes.count * n)
            for (slot, index) in indexes.enumerated() where index >= 0 {
                let range = values.byteRange(at: Int(index))
                guard range.count <= n else {
                    throw Failure(slot: slot, reason: "a value of \(range.count) bytes does not fit FixedString(\(n))")
                }
                out.replaceSubrange((slot * n)..<(slot * n + range.count), with: values.bytes[range])
            }
            return .fixed(try! FixedWidthBuffer(width: n, bytes: out))
        case .enumeration(let codes, let width):
            var out = FixedWidthBuffer(width: width, capacity: indexes.count)
            let fallback = codes.values.min() ?? 0
            for (slot, index) in indexes.enumerated() {
                var code = fallback
                if index >= 0 {
                    let bytes = Array(values.valueBytes(at: Int(index)))
                    guard let found = codes[bytes] else {
                        throw Failure(slot: slot, reason: "\"\(String(decoding: bytes, as: UTF8.self))\" is not a value of the enum")
                    }
                    code = found
                }
                if width == 1 { out.append(Int8(truncatingIfNeeded: code)) } else { out.append(Int16(truncatingIfNeeded: code)) }
            }
            return .fixed(out)
        case .wideDecimal:
            return try convertWideDecimal(values, indexes: indexes)
        }
    }

    static func convertWideDecimal(_ values: ParquetValueBuffer, indexes: [Int32]) throws(Failure) -> NativeColumnData {
        var out = FixedWidthBuffer(width: 32, capacity: indexes.count)
        for (slot, index) in indexes.enumerated() {
            var raw = [UInt8](repeating: 0, count: 32)
            if index >= 0 {
                let bytes = Array(values.valueBytes(at: Int(index)))
                guard bytes.count <= 32 else { throw Failure(slot: slot, reason: "the decimal is wider than 32 bytes") }
                let negative = (bytes.first ?? 0) & 0x80 != 0
                for (i, byte) in bytes.reversed().enumerated() { raw[i] = byte }
                if negative { for i in bytes.count..<32 { raw[i] = 0xFF } }
            }
            try! out.append(littleEndianBytes: raw)
        }
        return .fixed(out)
    }

    static func convertFixedBytes(
        _ values: ParquetValueBuffer, indexes: [Int32], length: Int, target: FixedTarget
    ) throws(Failure) -> NativeColumnData {
        switch target {
        case .string:
            var out = StringBuffer(capacity: indexes.count, byteCapacity: indexes.count * length)
            for index in indexes {
                if index < 0 { out.appendEmpty() } else { out.append(bytes: values.valueBytes(at: Int(index))) }
            }
            return .strings(out)
        case .fixedString(let n):
            var out = [UInt8](repeating: 0, count: indexes.count * n)
            for (slot, index) in indexes.enumerated() where index >= 0 {
                out.replaceSubrange((slot * n)..<(slot * n + length), with: values.valueBytes(at: Int(index)))
            }
            return .fixed(try! FixedWidthBuffer(width: n, bytes: out))
        case .ipv6:
            return try ScalarConversion.copy(width: 16).convert(values, indexes: indexes, count: indexes.count, target: .ipv6)
        case .uuid:
            // Parquet stores the 16 bytes in text order; ClickHouse stores each 8-byte half reversed.
            var out = [UInt8](repeating: 0, count: indexes.count * 16)
            for (slot, index) in indexes.enumerated() where index >= 0 {
                let bytes = Array(values.valueBytes(at: Int(index)))
                for i in 0..<8 {
                    out[slot * 16 + i] = bytes[7 - i]
                    out[slot * 16 + 8 + i] = bytes[15 - i]
                }
            }
            return .fixed(try! FixedWidthBuffer(width: 16, bytes: out))
        case .wideDecimal:
            return try convertWideDecimal(values, indexes: indexes)
        }
    }

    /// IEEE 754 half precision to single precision (exact).
    static func halfToFloat(_ bits: UInt16) -> Float {
        let sign: Float = bits & 0x8000 != 0 ? -1 : 1
        let exponent = Int((bits >> 10) & 0x1F)
        let fraction = Float(bits & 0x3FF)
        if exponent == 0 { return sign * fraction * 0x1p-24 }
        if exponent == 31 { return fraction == 0 ? sign * .infinity : .nan }
        return sign * (1 + fraction / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
    }
}
