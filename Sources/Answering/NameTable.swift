import DNSWire

/// An open-addressing hash table from lower-case wire names to node numbers,
/// probed with bytes straight from a received packet: no key is built, no
/// memory allocated, case folded while hashing and comparing.
struct NameTable: Sendable {
    private var slots: [Int32]          // node number, or -1 for empty
    private var hashes: [UInt32]
    private var keyStart: [Int32]       // per node: offset of its name in `arena`
    private var keyLength: [UInt8]
    private var arena: [UInt8] = []
    private let mask: Int

    /// `names` must be lower case and distinct; node `i` is `names[i]`.
    init(names: [DNSName]) {
        var capacity = 16
        while capacity < names.count * 2 { capacity <<= 1 }
        mask = capacity - 1
        slots = [Int32](repeating: -1, count: capacity)
        hashes = [UInt32](repeating: 0, count: capacity)
        keyStart = []
        keyLength = []
        for (node, name) in names.enumerated() {
            keyStart.append(Int32(arena.count))
            keyLength.append(UInt8(name.wire.count))
            arena.append(contentsOf: name.wire)
            let h = name.wire.withUnsafeBytes { NameTable.hash($0, 0, name.wire.count) }
            var i = Int(h) & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = Int32(node)
            hashes[i] = h
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
            hashes.withUnsafeBufferPointer { hashes in
                arena.withUnsafeBytes { arena in
                    var i = Int(h) & mask
                    while true {
                        let node = Int(slots[i])
                        if node < 0 { return nil }
                        if hashes[i] == h && Int(keyLength[node]) == length {
                            let k = Int(keyStart[node])
                            var equal = true
                            for j in 0..<length where asciiLower(p[start + j]) != arena[k + j] {
                                equal = false
                                break
                            }
                            if equal { return node }
                        }
                        i = (i + 1) & mask
                    }
                }
            }
        }
    }
}
