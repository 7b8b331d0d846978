import ClickHouseNative

/// Builds LowCardinality data (distinct values plus one index per row) from strings, so that a column with few
/// distinct values is sent once per value instead of once per row.
enum DictionaryEncoder {
    /// `strings` (and `nullMap` for a `LowCardinality(Nullable(String))` column) as dictionary-encoded data, or `nil`
    /// when most values are distinct (then plain data is smaller).
    static func encode(_ strings: StringBuffer, nullMap: [UInt8]?, nullable: Bool) -> NativeColumnData? {
        let rows = strings.count
        guard rows >= 64 else { return nil }
        var dictionary = StringBuffer(capacity: 256)
        // A NULL placeholder first for nullable columns (index 0 means NULL there).
        if nullable { dictionary.appendEmpty() }
        var capacity = 1024
        while capacity < rows * 2 { capacity <<= 1 }
        var slots = [Int32](repeating: -1, count: capacity)
        var indexes = [UInt32](repeating: 0, count: rows)
        let mask = capacity - 1
        let limit = rows / 2
        let found: Bool = strings.bytes.withUnsafeBufferPointer { source in
            for row in 0..<rows {
                if let nullMap, nullMap[row] != 0 {
                    indexes[row] = 0
                    continue
                }
                let range = strings.range(at: row)
                var hash: UInt64 = 0xCBF2_9CE4_8422_2325
                for i in range { hash = (hash ^ UInt64(source[i])) &* 0x100_0000_01B3 }
                var slot = Int(truncatingIfNeeded: hash) & mask
                while true {
                    let entry = slots[slot]
                    if entry < 0 {
                        if dictionary.count > limit { return false }
                        slots[slot] = Int32(dictionary.count)
                        indexes[row] = UInt32(dictionary.count)
                        dictionary.append(raw: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: source[range])))
                        break
                    }
                    let known = dictionary.range(at: Int(entry))
                    if known.count == range.count, dictionary.bytes[known].elementsEqual(source[range]) {
                        indexes[row] = UInt32(entry)
                        break
                    }
                    slot = (slot + 1) & mask
                }
            }
            return true
        }
        guard found else { return nil }
        let width = dictionary.count <= 256 ? 1 : dictionary.count <= 65536 ? 2 : 4
        var buffer = FixedWidthBuffer(width: width, capacity: rows)
        for index in indexes {
            switch width {
            case 1: buffer.append(UInt8(index))
            case 2: buffer.append(UInt16(index))
            default: buffer.append(index)
            }
        }
        return .lowCardinality(dictionary: .strings(dictionary), indexes: buffer)
    }
}
