import DNSWire

/// An open-addressing hash table from lower-case wire names to node numbers,
/// probed with bytes straight from a received packet: no key is built, no
/// memory allocated, case folded while hashing and comparing.
///
/// A slot holds everything a probe compares (hash, node, where the name
/// is), so that a lookup touches one slot's cache line and the name's bytes,
/// not one line in each of several parallel arrays: between two queries the
/// kernel's network stack evicts most of what the last lookup cached.
struct NameTable: Sendable {
    private struct Slot: Sendable {
        var hash: UInt32 = 0
        /// Node number, or -1 for an empty slot.
        var node: Int32 = -1
        /// The node's name: `arena[keyStart..<keyStart + keyLength]`.
        var keyStart: Int32 = 0
        var keyLength: Int32 = 0
    }

    private var slots: [Slot]
    private var arena: [UInt8] = []
    private let mask: Int

    /// `names` must be lower case and distinct; node `i` is `names[i]`.
    init(names: [DNSName]) {
        var capacity = 16
        while capacity < names.count * 2 { capacity <<= 1 }
        mask = capacity - 1
        slots = [Slot](repeating: Slot(), count: capacity)
        for (node, name) in names.enumerated() {
            let h = name.wire.withUnsafeBytes { NameTable.hash($0, 0, name.wire.count) }
            var i = Int(h) & mask
            while slots[i].node >= 0 { i = (i + 1) & mask }
            slots[i] = Slot(hash: h, node: Int32(node), keyStart: Int32(arena.count), keyLength: Int32(name.wire.count))
            arena.append(contentsOf: name.wire)
        }
    }

    /// FNV-1a over the case-folded bytes.
    @inline(__always)
    static func hash(_ p: UnsafeRawBufferPointer, _ start: Int, _ length: Int) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for i in start..<(start + length) { h = (h ^ UInt32(asciiLower(p[i]))) &* 16_777_619 }
        return h
    }

    /// The node whose name is `p[start..<start+length]`, compared without case.
    @inline(__always)
    func find(_ p: UnsafeRawBufferPointer, start: Int, length: Int) -> Int? {
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
}
