import DNSWire

/// A zone that passed every check and is ready to be stored.
public struct CheckedZone: Sendable {
    public var apex: DNSName
    public var records: PackedRecords
    public var soa: SOAFields
    /// Names directly delegated from the apex: the TLDs, for the root zone.
    public var delegationCount: Int
    public var strippedCount: Int
}

/// The checks a zone must pass before anything is written, so that a bad
/// download can never replace good data (RFC 1034 §4.2.1 zone structure):
/// exactly one SOA, at the apex; NS at the apex; every owner inside the zone;
/// nothing below a delegation but glue; every in-zone name-server name has an
/// address; no CNAME beside other data; no RRset with more rdata than a DNS
/// message can carry. Each error names the record's line.
///
/// It reads the packed records through pointers and tallies owners in a
/// `NameTable`, in file order: no reference counting, no allocation per
/// record, and the first error in the file is the one reported.
public enum ZoneChecker {
    public static func check(_ parsed: ParsedZone, apex: DNSName, file: String) throws(ZoneError) -> CheckedZone {
        let apex = apex.lowercased()
        let records = parsed.records
        let tally = records.bytes.withUnsafeBytes { bytes in
            records.entries.withUnsafeBufferPointer { entries in
                var walk = Walk(bytes: bytes, entries: entries, apex: apex, file: file, records: records)
                return Result { () throws(ZoneError) in try walk.run() }
            }
        }
        let (soa, delegationCount) = try tally.get()
        return CheckedZone(apex: apex, records: records, soa: soa, delegationCount: delegationCount,
                           strippedCount: parsed.strippedCount)
    }

    struct Owner {
        /// Where its name is in the packed bytes (as first spelled).
        var name: Int
        var nameLength: Int
        var firstIndex: Int
        var types: TypeSet
        /// Bytes of rdata of all its records: only an owner over
        /// `maximumRRsetRData` can hold an RRset over it.
        var rdataBytes = 0
        /// An NS record in the zone names it.
        var isNameServer = false
    }

    /// A DNS message is at most 65,535 bytes: an RRset with more rdata than
    /// that can never be sent, and no real zone has one.
    static let maximumRRsetRData = 0xFFFF

    /// One pass over the records, then one over the distinct owners.
    private struct Walk {
        let bytes: UnsafeRawBufferPointer
        let entries: UnsafeBufferPointer<PackedRecords.Entry>
        let apex: DNSName
        let file: String
        /// For error messages only.
        let records: PackedRecords
        var table: NameTable
        var owners: [Owner] = []

        init(bytes: UnsafeRawBufferPointer, entries: UnsafeBufferPointer<PackedRecords.Entry>, apex: DNSName, file: String,
             records: PackedRecords) {
            self.bytes = bytes
            self.entries = entries
            self.apex = apex
            self.file = file
            self.records = records
            // Most owners have two or more records (a TLD's NS set, a name
            // server's A and AAAA); the table grows if a zone has more.
            // Smaller is faster here: every insert probes a random slot.
            table = NameTable(capacity: entries.count / 4)
            owners.reserveCapacity(entries.count / 2)
        }

        mutating func run() throws(ZoneError) -> (soa: SOAFields, delegationCount: Int) {
            let soa = try tallyOwners()
            if owners.contains(where: { $0.rdataBytes > ZoneChecker.maximumRRsetRData }) { try checkRRsetSizes() }
            guard let apexNode = apex.wire.withUnsafeBytes({ table.find($0, start: 0, length: $0.count) }),
                  owners[apexNode].types.contains(.ns) else {
                throw ZoneError(file: file, message: "no NS records at the zone apex '\(apex)'")
            }
            try markNameServers()
            return (soa, try checkOwners(apexNode: apexNode))
        }

        /// Records of one owner come in runs sharing the owner's bytes: the
        /// table is probed once per run, and each run's types merged into
        /// its owner's.
        private mutating func tallyOwners() throws(ZoneError) -> SOAFields {
            var soa: SOAFields?
            var index = 0
            while index < entries.count {
                let runStart = index
                let at = Int(entries[index].owner), length = Int(entries[index].ownerLength)
                guard isInZone(at, length) else {
                    throw fail(index, "owner is outside the zone '\(apex)'", records.owner(of: entries[index]).description)
                }
                var types = TypeSet()
                var rdataBytes = 0
                while index < entries.count && Int(entries[index].owner) == at {
                    let type = entries[index].type
                    types.insert(type)
                    rdataBytes += Int(entries[index].rdataLength)
                    if type == .soa {
                        let record = records[index]
                        guard record.owner.lowercased() == apex else {
                            throw fail(index, "SOA record is not at the zone apex '\(apex)'", record.owner.description)
                        }
                        guard soa == nil else { throw fail(index, "more than one SOA record", record.description) }
                        guard let fields = SOAFields(rdata: record.rdata) else { throw fail(index, "malformed SOA record", record.description) }
                        soa = fields
                    }
                    index += 1
                }
                let (node, inserted) = table.insert(bytes, start: at, length: length)
                if inserted {
                    owners.append(Owner(name: at, nameLength: length, firstIndex: runStart, types: types, rdataBytes: rdataBytes))
                } else {
                    owners[node].types.formUnion(types)
                    owners[node].rdataBytes += rdataBytes
                }
            }
            guard let soa else { throw ZoneError(file: file, message: "no SOA record at the zone apex '\(apex)'") }
            return soa
        }

        /// Only when some owner has that much rdata at all: one more pass,
        /// summing per owner and type, refusing at the record that crosses
        /// the limit.
        private func checkRRsetSizes() throws(ZoneError) {
            var sizes: [Int: Int] = [:]
            var index = 0
            while index < entries.count {
                let at = Int(entries[index].owner), length = Int(entries[index].ownerLength)
                let node = table.find(bytes, start: at, length: length)!
                while index < entries.count && Int(entries[index].owner) == at {
                    let type = entries[index].type
                    let key = node << 16 | Int(type.rawValue)
                    let size = sizes[key, default: 0] + Int(entries[index].rdataLength)
                    guard size <= ZoneChecker.maximumRRsetRData else {
                        throw fail(index, "RRset larger than a DNS message can carry (over \(ZoneChecker.maximumRRsetRData) bytes of rdata)",
                                   "\(records.owner(of: entries[index])) \(type)")
                    }
                    sizes[key] = size
                    index += 1
                }
            }
        }

        /// Every in-zone name server needs an address; the names NS records
        /// point to are also what makes an address below a cut glue.
        private mutating func markNameServers() throws(ZoneError) {
            for index in entries.indices where entries[index].type == .ns {
                let at = Int(entries[index].rdata), length = Int(entries[index].rdataLength)
                guard isInZone(at, length) else { continue }
                guard let node = table.find(bytes, start: at, length: length),
                      owners[node].types.contains(.a) || owners[node].types.contains(.aaaa) else {
                    let target = DNSName(uncheckedWire: Array(bytes[at..<at + length]))
                    throw fail(index, "name server inside the zone has no A or AAAA record (glue)", target.description)
                }
                owners[node].isNameServer = true
            }
        }

        /// A delegation is an owner other than the apex with NS records.
        private func checkOwners(apexNode: Int) throws(ZoneError) -> Int {
            let apexLabels = apex.labelCount
            var delegationCount = 0
            for (node, owner) in owners.enumerated() where node != apexNode {
                let isDelegation = owner.types.contains(.ns)
                if owner.types.contains(.cname) && owner.types.count > 1 {
                    throw failAt(owner, .cname, "CNAME beside other data")
                }
                if isDelegation, let type = owner.types.subtracting(TypeSet.allowedAtDelegation).first {
                    throw failAt(owner, type, "\(type) data at a delegation point is occluded")
                }
                let labels = labelCount(owner.name)
                if isDelegation && labels == apexLabels + 1 { delegationCount += 1 }
                // Only names two or more labels below the apex can sit below a
                // delegation, and only glue may: addresses of a name server.
                guard labels > apexLabels + 1 else { continue }
                let nonGlue = owner.types.subtracting(TypeSet.glue).first
                guard nonGlue != nil || !owner.isNameServer, let cut = enclosingDelegation(of: owner, labels: labels - apexLabels) else {
                    continue
                }
                if let type = nonGlue {
                    throw failAt(owner, type, "\(type) record below the delegation '\(cut)' is not glue")
                }
                let type: RRType = owner.types.contains(.a) ? .a : .aaaa
                throw failAt(owner, type, "\(type) record below the delegation '\(cut)' is not glue: no NS record names it")
            }
            return delegationCount
        }

        /// The topmost delegation strictly above the owner and below the
        /// apex (`labels` counts the owner's labels below the apex).
        private func enclosingDelegation(of owner: Owner, labels: Int) -> DNSName? {
            var at = owner.name
            var found: DNSName?
            for _ in 1..<labels {
                at += Int(bytes[at]) + 1
                let length = owner.nameLength - (at - owner.name)
                if let node = table.find(bytes, start: at, length: length), owners[node].types.contains(.ns) {
                    found = DNSName(uncheckedWire: Array(bytes[at..<at + length]))
                }
            }
            return found
        }

        private func isInZone(_ at: Int, _ length: Int) -> Bool {
            DNSName.isSubdomain(UnsafeRawBufferPointer(rebasing: bytes[at..<at + length]), of: apex)
        }

        private func labelCount(_ at: Int) -> Int {
            var count = 0
            var i = at
            while bytes[i] != 0 {
                count += 1
                i += Int(bytes[i]) + 1
            }
            return count
        }

        private func fail(_ index: Int, _ message: String, _ text: String) -> ZoneError {
            ZoneError(file: file, line: Int(entries[index].line), message: message, text: text)
        }

        /// The line of the record at fault, not the owner's first line.
        private func failAt(_ owner: Owner, _ type: RRType, _ message: String) -> ZoneError {
            let node = table.find(bytes, start: owner.name, length: owner.nameLength)
            let index = entries.indices.first { index in
                entries[index].type == type
                    && table.find(bytes, start: Int(entries[index].owner), length: Int(entries[index].ownerLength)) == node
            } ?? owner.firstIndex
            return fail(index, message, records.owner(of: entries[index]).description)
        }
    }
}

/// A set of record types: a bitmap of the codes below 256, and for rarer
/// codes above only whether there are any and the lowest. Trivial to copy
/// (no reference counting), since the checker keeps one per owner.
struct TypeSet {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// The lowest code ≥ 256 in the set, and how many such codes were added.
    private var highLowest: UInt16 = .max
    private var highCount = 0

    static let glue = TypeSet([.a, .aaaa])
    static let allowedAtDelegation = TypeSet([.ns, .ds, .rrsig, .nsec, .a, .aaaa])

    init(_ types: [RRType] = []) {
        for type in types { insert(type) }
    }

    private func word(_ i: Int) -> UInt64 {
        switch i {
        case 0: return words.0
        case 1: return words.1
        case 2: return words.2
        default: return words.3
        }
    }

    mutating func insert(_ type: RRType) {
        let code = type.rawValue
        guard code < 256 else {
            if code != highLowest { highCount += 1 }
            highLowest = min(highLowest, code)
            return
        }
        let bit: UInt64 = 1 << UInt64(code & 63)
        switch code >> 6 {
        case 0: words.0 |= bit
        case 1: words.1 |= bit
        case 2: words.2 |= bit
        default: words.3 |= bit
        }
    }

    func contains(_ type: RRType) -> Bool {
        let code = type.rawValue
        guard code < 256 else { return highCount > 0 && code == highLowest }
        return word(Int(code >> 6)) & (1 << UInt64(code & 63)) != 0
    }

    /// At least the number of types (exact unless several codes ≥ 256 repeat).
    var count: Int {
        words.0.nonzeroBitCount + words.1.nonzeroBitCount + words.2.nonzeroBitCount + words.3.nonzeroBitCount + highCount
    }

    var isEmpty: Bool { count == 0 }

    mutating func formUnion(_ other: TypeSet) {
        self = union(other)
    }

    func union(_ other: TypeSet) -> TypeSet {
        var result = self
        result.words = (words.0 | other.words.0, words.1 | other.words.1, words.2 | other.words.2, words.3 | other.words.3)
        result.highCount = highCount + other.highCount
        result.highLowest = min(highLowest, other.highLowest)
        return result
    }

    /// The types below 256 not in `other`, and any code ≥ 256 (the sets
    /// subtracted here never hold one).
    func subtracting(_ other: TypeSet) -> TypeSet {
        var result = self
        result.words = (words.0 & ~other.words.0, words.1 & ~other.words.1, words.2 & ~other.words.2, words.3 & ~other.words.3)
        return result
    }

    /// The lowest type code in the set.
    var first: RRType? {
        for i in 0..<4 where word(i) != 0 {
            return RRType(UInt16(i * 64 + word(i).trailingZeroBitCount))
        }
        return highCount > 0 ? RRType(highLowest) : nil
    }
}
