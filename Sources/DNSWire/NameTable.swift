/// An open-addressing hash table from domain names to node numbers, probed
/// with bytes straight from where the name already is (a received packet,
/// a zone's packed records): no key is built, no memory allocated, case
/// folded while hashing and comparing.
///
/// Two users: the answering path builds one per zone load and probes it for
/// every query; the zone checker fills one as it walks a zone's owners, so
/// that tallying 20,000 records costs no reference counting and no
/// per-name allocation. Node numbers are given out in insertion order.
///
/// A slot holds everything a probe compares (hash, node, where the name
/// is), so that a lookup touches one slot's cache line and the name's bytes,
/// not one line in each of several parallel arrays: between two queries the
/// kernel's network stack evicts most of what the last lookup cached.
public struct NameTable: Sendable {
    @usableFromInline
    struct Slot: Sendable {
        @usableFromInline var hash: UInt32 = 0
        /// Node number, or -1 for an empty slot.
        @usableFromInline var node: Int32 = -1
        /// The node's name, lower case: `arena[keyStart..<keyStart + keyLength]`.
        @usableFromInline var keyStart: Int32 = 0
        @usableFromInline var keyLength: Int32 = 0

        @usableFromInline init() {}

        @usableFromInline init(hash: UInt32, node: Int32, keyStart: Int32, keyLength: Int32) {
            self.hash = hash
            self.node = node
            self.keyStart = keyStart
            self.keyLength = keyLength
        }
    }

    @usableFromInline var slots: [Slot]
    @usableFromInline var arena: [UInt8] = []
    @usableFromInline var mask: Int
    /// Names inserted so far; the next node number.
    public private(set) var count = 0

    /// Room for `capacity` names before the table grows.
    public init(capacity: Int = 8) {
        var slotCount = 16
        while slotCount < capacity * 2 { slotCount <<= 1 }
        mask = slotCount - 1
        slots = [Slot](repeating: Slot(), count: slotCount)
        arena.reserveCapacity(capacity * 16)
    }

    /// `names` must be distinct (ignoring case); node `i` is `names[i]`.
    public init(names: [DNSName]) {
        self.init(capacity: names.count)
        for name in names {
            _ = name.wire.withUnsafeBytes { insert($0, start: 0, length: name.wire.count) }
        }
    }

    /// A multiplicative hash of the case-folded bytes, eight at a time: a
    /// root-zone name is two or three words, so a probe costs a few
    /// multiplies instead of a multiply per byte.
    @inlinable @inline(__always)
    static func hash(_ p: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> UInt32 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(length)
        var i = start
        let end = start + length
        while i + 8 <= end {
            h = (h ^ lower8(p.loadUnaligned(fromByteOffset: i, as: UInt64.self))) &* 0x9E37_79B9_7F4A_7C15
            i += 8
        }
        if i < end { h = (h ^ lower8(tail(p, i, end))) &* 0x9E37_79B9_7F4A_7C15 }
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        return UInt32(truncatingIfNeeded: h)
    }

    /// Eight bytes folded to lower case at once: 0x20 added to each byte
    /// from "A" to "Z", every other byte (digits, "-", label lengths, bytes
    /// of 0x80 and above) kept, as `asciiLower` does one byte at a time.
    @inlinable @inline(__always)
    static func lower8(_ x: UInt64) -> UInt64 {
        let ascii = x & 0x7F7F_7F7F_7F7F_7F7F
        let fromA = ascii &+ 0x3F3F_3F3F_3F3F_3F3F  // top bit: byte >= 0x41
        let pastZ = ascii &+ 0x2525_2525_2525_2525  // top bit: byte >= 0x5B
        let upper = fromA & ~pastZ & ~x & 0x8080_8080_8080_8080
        return x | (upper >> 2)
    }

    /// The last one to seven bytes, little-endian, zero-filled: no load
    /// reaches past the name.
    @inlinable @inline(__always)
    static func tail(_ p: UnsafeRawBufferPointer, _ i: Int, _ end: Int) -> UInt64 {
        var word: UInt64 = 0
        for j in i..<end { word |= UInt64(p[j]) << UInt64(8 * (j - i)) }
        return word
    }

    /// The node whose name is `p[start..<start+length]`, compared without case.
    @inlinable @inline(__always)
    public func find(_ p: UnsafeRawBufferPointer, start: Int, length: Int) -> Int? {
        find(p, start: start, length: length, hash: NameTable.hash(p, start, length))
    }

    @inlinable @inline(__always)
    func find(_ p: UnsafeRawBufferPointer, start: Int, length: Int, hash h: UInt32) -> Int? {
        slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBytes { arena in
                var i = Int(h) & mask
                while true {
                    let slot = slots[i]
                    if slot.node < 0 { return nil }
                    if slot.hash == h && Int(slot.keyLength) == length
                        && NameTable.equal(p, start, arena, Int(slot.keyStart), length) {
                        return Int(slot.node)
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    /// Whether `p[start...]` folded to lower case is `key[k...]` (lower case
    /// already), over `length` bytes, eight at a time.
    @inlinable @inline(__always)
    static func equal(_ p: UnsafeRawBufferPointer, _ start: Int, _ key: UnsafeRawBufferPointer, _ k: Int, _ length: Int) -> Bool {
        var j = 0
        while j + 8 <= length {
            guard lower8(p.loadUnaligned(fromByteOffset: start + j, as: UInt64.self))
                    == key.loadUnaligned(fromByteOffset: k + j, as: UInt64.self) else { return false }
            j += 8
        }
        while j < length {
            guard asciiLower(p[start + j]) == key[k + j] else { return false }
            j += 1
        }
        return true
    }

    /// The node of `p[start..<start+length]`, added as the next node number
    /// if the table does not hold the name yet.
    public mutating func insert(_ p: UnsafeRawBufferPointer, start: Int, length: Int) -> (node: Int, inserted: Bool) {
        let h = NameTable.hash(p, start, length)
        if let node = find(p, start: start, length: length, hash: h) { return (node, false) }
        if (count + 1) * 2 > slots.count { grow() }
        let node = count
        let keyStart = arena.count
        arena.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[start..<(start + length)]))
        arena.withUnsafeMutableBufferPointer { key in
            for i in keyStart..<key.count { key[i] = asciiLower(key[i]) }
        }
        place(Slot(hash: h, node: Int32(node), keyStart: Int32(keyStart), keyLength: Int32(length)))
        count += 1
        return (node, true)
    }

    private mutating func place(_ slot: Slot) {
        var i = Int(slot.hash) & mask
        while slots[i].node >= 0 { i = (i + 1) & mask }
        slots[i] = slot
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: old.count * 2)
        mask = slots.count - 1
        for slot in old where slot.node >= 0 { place(slot) }
    }
}
