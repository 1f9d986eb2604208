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
    }

    /// `names` must be distinct (ignoring case); node `i` is `names[i]`.
    public init(names: [DNSName]) {
        self.init(capacity: names.count)
        for name in names {
            _ = name.wire.withUnsafeBytes { insert($0, start: 0, length: name.wire.count) }
        }
    }

    /// FNV-1a over the case-folded bytes.
    @inlinable @inline(__always)
    static func hash(_ p: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for i in start..<(start + length) { h = (h ^ UInt32(asciiLower(p[i]))) &* 16_777_619 }
        return h
    }

    /// The node whose name is `p[start..<start+length]`, compared without case.
    @inlinable @inline(__always)
    public func find(_ p: UnsafeRawBufferPointer, start: Int, length: Int) -> Int? {
        let h = NameTable.hash(p, start, length)
        return slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBytes { arena in
                var i = Int(h) & mask
                while true {
                    let slot = slots[i]
                    if slot.node < 0 { return nil }
                    if slot.hash == h && Int(slot.keyLength) == length {
                        let k = Int(slot.keyStart)
                        var equal = true
                        for j in 0..<length where asciiLower(p[start + j]) != arena[k + j] {
                            equal = false
                            break
                        }
                        if equal { return Int(slot.node) }
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    /// The node of `p[start..<start+length]`, added as the next node number
    /// if the table does not hold the name yet.
    public mutating func insert(_ p: UnsafeRawBufferPointer, start: Int, length: Int) -> (node: Int, inserted: Bool) {
        if let node = find(p, start: start, length: length) { return (node, false) }
        if (count + 1) * 2 > slots.count { grow() }
        let node = count
        place(Slot(hash: NameTable.hash(p, start, length), node: Int32(node), keyStart: Int32(arena.count), keyLength: Int32(length)))
        for i in start..<(start + length) { arena.append(asciiLower(p[i])) }
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
