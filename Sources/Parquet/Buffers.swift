import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A growable output over an array whose memory is reused from one column chunk to the next.
///
/// The logical content is `storage[0..<count]`. Elements from `count` up to `storage.count` are
/// writable space: zeros when the storage first grew there, stale values from an earlier chunk
/// when the array is reused. Writers reserve space, fill it through a pointer and then
/// advance `count`; nothing past `count` is ever read as output. ``finish()`` drops the space.
struct OutputBuffer<Element: FixedWidthInteger> {
    private(set) var storage: [Element]
    /// Number of elements written.
    var count = 0

    /// Starts empty, reusing the memory of `array` (its contents are overwritten).
    init(reusing array: [Element] = []) {
        storage = array
    }

    /// Makes at least `n` elements writable past ``count`` (without changing ``count``).
    @inline(__always)
    mutating func reserve(_ n: Int) {
        let needed = count + n
        if storage.count < needed { grow(to: needed) }
    }

    @inline(never)
    private mutating func grow(to needed: Int) {
        if storage.capacity < needed {
            storage.reserveCapacity(Swift.max(needed, storage.capacity * 2))
            adviseHugePages(&storage)
        }
        _ = storage.appendZeros(needed - storage.count)
    }

    /// Reserves room for the final size of the output from the start, without touching it.
    mutating func reserveCapacity(_ n: Int) {
        if storage.capacity < n {
            storage.reserveCapacity(n)
            adviseHugePages(&storage)
        }
    }

    /// Reserves `n` elements, lets `body` write into them from ``count`` on, and advances
    /// ``count`` by what `body` returns (at most `n`).
    @inline(__always)
    mutating func write<E: Error>(
        upTo n: Int, _ body: (UnsafeMutablePointer<Element>) throws(E) -> Int
    ) throws(E) {
        reserve(n)
        let start = count
        let written = try storage.withUnsafeMutableBufferPointer { (buffer) throws(E) -> Int in
            try body(buffer.baseAddress! + start)
        }
        count = start + written
    }

    /// Appends bytes with one copy (`Element` must be `UInt8`-sized per byte of `data`).
    @inline(__always)
    mutating func append(copying data: UnsafeRawBufferPointer) {
        let n = data.count / MemoryLayout<Element>.stride
        guard n > 0, let source = data.baseAddress else { return }
        write(upTo: n) { out in
            UnsafeMutableRawPointer(out).copyMemory(from: source, byteCount: n * MemoryLayout<Element>.stride)
            return n
        }
    }

    /// Appends one element.
    @inline(__always)
    mutating func append(_ value: Element) {
        write(upTo: 1) { out in
            out.pointee = value
            return 1
        }
    }

    /// The last element written, if any.
    var last: Element? { count > 0 ? storage[count - 1] : nil }

    /// Calls `body` with the elements written so far.
    @inline(__always)
    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) -> R) -> R {
        storage.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[0..<count])) }
    }

    /// Forgets the contents, keeping the memory.
    mutating func removeAll() { count = 0 }

    /// The elements written, as an array (the spare room is dropped; the capacity is kept).
    mutating func finish() -> [Element] {
        if storage.count > count { storage.removeSubrange(count...) }
        let result = storage
        storage = []
        count = 0
        return result
    }
}

/// Memory reused from one column chunk read to the next so that the next chunk does not fault
/// in fresh pages: the stored chunk, the decompressed page, the dictionary, a batch of
/// dictionary indices, and the output arrays of ``scan(_:)``. One set serves one decode at a
/// time; it is bounded by one column chunk, its pages and its decoded values.
struct DecodeScratch: Sendable {
    /// The stored bytes of the chunk being decoded.
    var chunk: [UInt8] = []
    /// One decompressed page.
    var page: [UInt8] = []
    /// Dictionary values (fixed-width values back to back, or BYTE_ARRAY bytes plus padding).
    var dictBytes: [UInt8] = []
    /// Dictionary offsets for BYTE_ARRAY.
    var dictOffsets: [Int] = []
    /// A batch of dictionary indices.
    var indices: [UInt32] = []
    /// The arrays ``scan(_:)`` decodes into.
    var scanOutput = ColumnBuffers()
    /// A ZSTD context, once a ZSTD chunk has been read.
    var zstd: ZstdDecompressor?

    /// Bytes of memory the set holds.
    var retainedBytes: Int {
        chunk.capacity + page.capacity + dictBytes.capacity + dictOffsets.capacity * 8 + indices.capacity * 4
            + scanOutput.bytes.capacity + scanOutput.offsets.capacity * 8 + scanOutput.definitionLevels.capacity
            + scanOutput.repetitionLevels.capacity
    }

    /// Releases the largest arrays until the set holds at most `limit` bytes, so that an
    /// unusually large chunk does not stay in memory after it has been decoded.
    mutating func trim(to limit: Int) {
        while retainedBytes > limit {
            let sizes = [chunk.capacity, page.capacity, dictBytes.capacity, dictOffsets.capacity * 8,
                         scanOutput.bytes.capacity, scanOutput.offsets.capacity * 8,
                         scanOutput.definitionLevels.capacity, scanOutput.repetitionLevels.capacity,
                         indices.capacity * 4]
            switch sizes.indices.max(by: { sizes[$0] < sizes[$1] })! {
            case 0: chunk = []
            case 1: page = []
            case 2: dictBytes = []
            case 3: dictOffsets = []
            case 4: scanOutput.bytes = []
            case 5: scanOutput.offsets = []
            case 6: scanOutput.definitionLevels = []
            case 7: scanOutput.repetitionLevels = []
            default: indices = []
            }
        }
    }
}

/// Decode memory shared by every file the process reads, like an allocator's cache: decoding
/// file after file (the loader's steady state) then reuses warm memory instead of faulting in
/// fresh pages for every chunk, which costs as much as decoding fixed-width values. Each
/// decode takes a set and gives it back; at most ``maxIdleSets`` sets stay idle, each
/// trimmed to ``maxRetainedBytes`` (largest arrays released first) when given back, so idle
/// memory stays bounded whatever chunks were decoded.
enum DecodeMemoryPool {
    static let maxIdleSets = 2
    static let maxRetainedBytes = 64 << 20

    private static let idle = Mutex<[DecodeScratch]>([])

    /// A set of memory for one decode (empty arrays when none is idle).
    static func take() -> DecodeScratch {
        idle.withLock { $0.popLast() } ?? DecodeScratch()
    }

    /// Gives a set back after a decode.
    static func give(_ memory: consuming DecodeScratch) {
        var kept = memory
        kept.trim(to: maxRetainedBytes)
        idle.withLock { sets in
            if sets.count < maxIdleSets { sets.append(kept) }
        }
    }

    /// Releases every idle set.
    static func releaseIdle() {
        idle.withLock { $0.removeAll() }
    }
}

extension Array where Element == UInt8 {
    /// Makes the array exactly `length` bytes of writable memory, reusing its storage, and
    /// marks any spare bytes past `length` as unreadable for the address sanitizer.
    mutating func prepareScratch(length: Int) {
        AddressSanitizer.unpoison(&self)
        if count < length {
            if capacity < length {
                // Nothing worth copying: start over at the new size.
                self = []
                reserveCapacity(length)
                adviseHugePages(&self)
            }
            _ = appendZeros(length - count)
        }
        AddressSanitizer.poison(&self, from: length)
    }
}

/// Large buffers are filled right after they are allocated; asking the kernel for huge pages
/// where it allows them (Linux, transparent huge pages in `madvise` or `always` mode) turns
/// hundreds of page faults per megabyte into one. A hint only: nothing depends on it.
@inline(__always)
func adviseHugePages<T>(_ array: inout [T]) {
    #if os(Linux)
    let bytes = array.capacity * MemoryLayout<T>.stride
    guard bytes >= hugePageAdviceMinimum else { return }
    array.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        let start = (UInt(bitPattern: base) + hugePageSize - 1) & ~(hugePageSize - 1)
        let end = (UInt(bitPattern: base) + UInt(bytes)) & ~(hugePageSize - 1)
        if end > start {
            _ = madvise(UnsafeMutableRawPointer(bitPattern: start), Int(end - start), MADV_HUGEPAGE)
        }
    }
    #endif
}

private let hugePageSize: UInt = 2 << 20
private let hugePageAdviceMinimum = 4 << 20

/// Marks spare room in reused buffers as unreadable when the process runs under the address
/// sanitizer (the fuzzing build), so reads past a chunk's or page's end are still caught even
/// though the memory behind them is allocated. Does nothing otherwise.
enum AddressSanitizer {
    typealias RegionFunction = @convention(c) (UnsafeRawPointer?, Int) -> Void

    static let poisonRegion: RegionFunction? = lookup("__asan_poison_memory_region")
    static let unpoisonRegion: RegionFunction? = lookup("__asan_unpoison_memory_region")

    private static func lookup(_ name: String) -> RegionFunction? {
        #if os(Linux)
        guard let symbol = dlsym(nil, name) else { return nil }
        return unsafeBitCast(symbol, to: RegionFunction.self)
        #else
        return nil
        #endif
    }

    /// Poisons `array[from...]`.
    static func poison(_ array: inout [UInt8], from start: Int) {
        guard let poisonRegion, start < array.count else { return }
        array.withUnsafeMutableBufferPointer { poisonRegion($0.baseAddress! + start, $0.count - start) }
    }

    /// Makes the whole array readable again.
    static func unpoison(_ array: inout [UInt8]) {
        guard let unpoisonRegion, !array.isEmpty else { return }
        array.withUnsafeMutableBufferPointer { unpoisonRegion($0.baseAddress!, $0.count) }
    }
}
