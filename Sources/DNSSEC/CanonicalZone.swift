import DNSWire
import ZoneFile

/// A zone's records in the form both proofs read them: owner names and the
/// names inside rdata folded to lower case (RFC 4034 §6.2, with RFC 6840
/// §5.1's exception for NSEC and RRSIG), every owner numbered, the records
/// in canonical order (RFC 4034 §6.1 and §6.3) with duplicates dropped,
/// grouped into RRsets, and each owner placed against the zone's cuts.
///
/// `canon` is a copy of the packed bytes lowered in place, so that every
/// entry's offsets hold for it too: one copy of the zone instead of one
/// array per record.
struct CanonicalZone {
    enum Standing: UInt8 {
        case apex, authoritative, delegation
        /// Below a delegation: glue, or occluded data.
        case belowCut
        case outOfZone
    }

    struct Name {
        var start: Int
        var length: Int
        /// Labels without the root, a leading `*` counted (RFC 4034 §3.1.3 leaves it out).
        var labels: Int
        var isWildcard: Bool
        var standing = Standing.outOfZone
    }

    struct RRset {
        var name: Int32
        var type: RRType
        /// `order[first..<first + count]`.
        var first: Int32
        var count: Int32
    }

    let records: PackedRecords
    let apex: DNSName
    var canon: [UInt8]
    var nameOfEntry: [Int32]
    var names: [Name] = []
    /// Name numbers in canonical order.
    var nameOrder: [Int32] = []
    /// Entry numbers in canonical order, duplicates removed.
    var order: [Int32] = []
    var rrsets: [RRset] = []
    /// RRset number by `name << 16 | type`.
    var rrsetIndex: [Int: Int32] = [:]
    /// Each name's RRsets: `rrsets[range]` (a name's RRsets are adjacent).
    var rrsetsOfName: [Range<Int>] = []
    var apexName: Int32?

    init(_ records: PackedRecords, apex: DNSName) {
        self.records = records
        self.apex = apex.lowercased()
        canon = records.bytes
        nameOfEntry = [Int32](repeating: 0, count: records.entries.count)
        lowerNames()
        numberNames()
        sortNames()
        sortRecords()
        placeNames()
    }

    func rrset(_ name: Int32, _ type: RRType) -> RRset? {
        rrsetIndex[Int(name) << 16 | Int(type.rawValue)].map { rrsets[Int($0)] }
    }

    func entries(of set: RRset) -> ArraySlice<Int32> {
        order[Int(set.first)..<Int(set.first + set.count)]
    }

    func rdata(_ entry: PackedRecords.Entry) -> ArraySlice<UInt8> {
        canon[Int(entry.rdata)..<Int(entry.rdata) + Int(entry.rdataLength)]
    }

    func nameWire(_ name: Int32) -> ArraySlice<UInt8> {
        let n = names[Int(name)]
        return canon[n.start..<(n.start + n.length)]
    }

    func dnsName(_ name: Int32) -> DNSName { DNSName(uncheckedWire: Array(nameWire(name))) }

    // MARK: Building

    private mutating func lowerNames() {
        let entries = records.entries
        canon.withUnsafeMutableBufferPointer { bytes in
            func lower(_ range: Range<Int>) {
                for i in range { bytes[i] = asciiLower(bytes[i]) }
            }
            var lastOwner = -1
            for entry in entries {
                if Int(entry.owner) != lastOwner {
                    lastOwner = Int(entry.owner)
                    lower(Int(entry.owner)..<Int(entry.owner) + Int(entry.ownerLength))
                }
                // A name's length bytes are below 64, so folding every byte
                // of a wire name leaves them alone.
                let rdata = Int(entry.rdata), end = rdata + Int(entry.rdataLength)
                switch entry.type {
                case .ns, .cname, .ptr: lower(rdata..<end)
                case .mx: lower(min(rdata + 2, end)..<end)
                case .soa: lower(rdata..<max(rdata, end - 20))
                case .naptr:
                    // The replacement name follows two numbers and three character-strings.
                    var i = rdata + 4
                    for _ in 0..<3 where i < end { i += 1 + Int(bytes[i]) }
                    lower(min(i, end)..<end)
                default: break
                }
            }
        }
    }

    private mutating func numberNames() {
        var table = NameTable(capacity: records.entries.count / 2)
        var lastOwner = -1
        var lastName: Int32 = 0
        canon.withUnsafeBytes { bytes in
            for (index, entry) in records.entries.enumerated() {
                if Int(entry.owner) != lastOwner {
                    lastOwner = Int(entry.owner)
                    let (node, inserted) = table.insert(bytes, start: Int(entry.owner), length: Int(entry.ownerLength))
                    if inserted {
                        let name = UnsafeRawBufferPointer(rebasing: bytes[Int(entry.owner)..<Int(entry.owner) + Int(entry.ownerLength)])
                        var labels = 0
                        var i = 0
                        while name[i] != 0 { labels += 1; i += Int(name[i]) + 1 }
                        names.append(Name(start: Int(entry.owner), length: Int(entry.ownerLength), labels: labels,
                                          isWildcard: name[0] == 1 && name[1] == UInt8(ascii: "*")))
                    }
                    lastName = Int32(node)
                }
                nameOfEntry[index] = lastName
            }
        }
        apexName = apex.wire.withUnsafeBytes { table.find($0, start: 0, length: apex.wire.count) }.map(Int32.init)
    }

    /// RFC 4034 §6.1: label by label from the right, each compared as an
    /// octet string (already lower case), a name before its descendants.
    private mutating func sortNames() {
        var labelStarts: [Int32] = []
        var firstLabel: [Int32] = []
        labelStarts.reserveCapacity(names.count * 3)
        for name in names {
            firstLabel.append(Int32(labelStarts.count))
            var i = name.start
            while canon[i] != 0 { labelStarts.append(Int32(i)); i += Int(canon[i]) + 1 }
        }
        firstLabel.append(Int32(labelStarts.count))
        var order = (0..<Int32(names.count)).map { $0 }
        canon.withUnsafeBytes { bytes in
            labelStarts.withUnsafeBufferPointer { starts in
                firstLabel.withUnsafeBufferPointer { first in
                    order.sort { a, b in
                        var i = Int(first[Int(a) + 1]) - 1, j = Int(first[Int(b) + 1]) - 1
                        let aFirst = Int(first[Int(a)]), bFirst = Int(first[Int(b)])
                        while i >= aFirst && j >= bFirst {
                            let c = CanonicalZone.compare(bytes, Int(starts[i]) + 1, Int(bytes[Int(starts[i])]),
                                                          Int(starts[j]) + 1, Int(bytes[Int(starts[j])]))
                            if c != 0 { return c < 0 }
                            i -= 1
                            j -= 1
                        }
                        return i < aFirst && j >= bFirst
                    }
                }
            }
        }
        nameOrder = order
    }

    /// Octet strings compared as RFC 4034 §6.3 wants rdata: left-justified,
    /// the shorter first when one is the start of the other.
    static func compare(_ bytes: UnsafeRawBufferPointer, _ a: Int, _ aLength: Int, _ b: Int, _ bLength: Int) -> Int {
        let common = min(aLength, bLength)
        if common > 0 {
            let c = memcmp(bytes.baseAddress! + a, bytes.baseAddress! + b, common)
            if c != 0 { return Int(c) }
        }
        return aLength - bLength
    }

    private mutating func sortRecords() {
        var rank = [Int32](repeating: 0, count: names.count)
        for (position, name) in nameOrder.enumerated() { rank[Int(name)] = Int32(position) }
        var sorted = (0..<Int32(records.entries.count)).map { $0 }
        let entries = records.entries
        canon.withUnsafeBytes { bytes in
            entries.withUnsafeBufferPointer { entries in
                rank.withUnsafeBufferPointer { rank in
                    nameOfEntry.withUnsafeBufferPointer { nameOf in
                        sorted.sort { a, b in
                            let ra = rank[Int(nameOf[Int(a)])], rb = rank[Int(nameOf[Int(b)])]
                            if ra != rb { return ra < rb }
                            let ea = entries[Int(a)], eb = entries[Int(b)]
                            if ea.type != eb.type { return ea.type < eb.type }
                            return CanonicalZone.compare(bytes, Int(ea.rdata), Int(ea.rdataLength),
                                                         Int(eb.rdata), Int(eb.rdataLength)) < 0
                        }
                        // Runs of one name and type are RRsets; a record equal
                        // to the one before it is the same record twice.
                        order.reserveCapacity(sorted.count)
                        for entry in sorted {
                            let e = entries[Int(entry)], name = nameOf[Int(entry)]
                            if let last = rrsets.last, last.name == name, last.type == e.type {
                                let previous = entries[Int(order[order.count - 1])]
                                if CanonicalZone.compare(bytes, Int(previous.rdata), Int(previous.rdataLength),
                                                         Int(e.rdata), Int(e.rdataLength)) == 0 { continue }
                                rrsets[rrsets.count - 1].count += 1
                            } else {
                                rrsetIndex[Int(name) << 16 | Int(e.type.rawValue)] = Int32(rrsets.count)
                                rrsets.append(RRset(name: name, type: e.type, first: Int32(order.count), count: 1))
                            }
                            order.append(entry)
                        }
                        rrsetsOfName = [Range<Int>](repeating: 0..<0, count: names.count)
                        var start = 0
                        for (index, set) in rrsets.enumerated() where index + 1 == rrsets.count || rrsets[index + 1].name != set.name {
                            rrsetsOfName[Int(set.name)] = start..<(index + 1)
                            start = index + 1
                        }
                    }
                }
            }
        }
    }

    /// In canonical order a name's descendants follow it directly, so one
    /// pass with the current cut places every name.
    private mutating func placeNames() {
        var cut: DNSName?
        for name in nameOrder {
            let wire = nameWire(name)
            let standing: Standing
            let inZone = wire.withUnsafeBytes { DNSName.isSubdomain($0, of: apex) }
            if !inZone {
                standing = .outOfZone
            } else if name == apexName {
                standing = .apex
            } else if let c = cut, wire.withUnsafeBytes({ DNSName.isSubdomain($0, of: c) }) {
                standing = .belowCut
            } else if rrset(name, .ns) != nil {
                standing = .delegation
                cut = dnsName(name)
            } else {
                standing = .authoritative
            }
            names[Int(name)].standing = standing
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
