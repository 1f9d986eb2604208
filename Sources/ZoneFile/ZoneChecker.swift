import DNSWire

/// A zone that passed every check and is ready to be stored.
public struct CheckedZone: Sendable {
    public var apex: DNSName
    public var records: [ResourceRecord]
    public var soa: SOAFields
    /// Names directly delegated from the apex: the TLDs, for the root zone.
    public var delegationCount: Int
    public var strippedCount: Int
}

/// The checks a zone must pass before anything is written, so that a bad
/// download can never replace good data (RFC 1034 §4.2.1 zone structure):
/// exactly one SOA, at the apex; NS at the apex; every owner inside the zone;
/// nothing below a delegation but glue; every in-zone name-server name has an
/// address; no CNAME beside other data. Each error names the record's line.
public enum ZoneChecker {
    public static func check(_ parsed: ParsedZone, apex: DNSName, file: String) throws(ZoneError) -> CheckedZone {
        let apex = apex.lowercased()
        let records = parsed.records

        func fail(_ index: Int, _ message: String, _ text: String) -> ZoneError {
            ZoneError(file: file, line: parsed.lines[index], message: message, text: text)
        }

        // One entry per distinct owner: its canonical name, its types and
        // the first record's index (for error lines). Records of one owner
        // come in runs, so the dictionary is touched once per run.
        var owners: [DNSName: OwnerInfo] = [:]
        owners.reserveCapacity(records.count / 2)
        var soa: SOAFields?
        try records.withUnsafeBufferPointer { (records) throws(ZoneError) in
            var runStart = 0
            var runTypes = TypeSet()
            func closeRun() {
                guard !runTypes.isEmpty else { return }
                // One hash lookup: the first run of an owner inserts it.
                owners[records[runStart].owner.lowercased(), default: OwnerInfo(firstIndex: runStart, types: TypeSet())]
                    .types.formUnion(runTypes)
            }
            for index in records.indices {
                if index == 0 || records[index].owner != records[runStart].owner {
                    closeRun()
                    runStart = index
                    runTypes = TypeSet()
                    guard records[index].owner.isSubdomain(of: apex) else {
                        throw fail(index, "owner is outside the zone '\(apex)'", records[index].owner.description)
                    }
                }
                let type = records[index].type
                runTypes.insert(type)
                if type == .soa {
                    let record = records[index]
                    guard record.owner.lowercased() == apex else {
                        throw fail(index, "SOA record is not at the zone apex '\(apex)'", record.owner.description)
                    }
                    guard soa == nil else { throw fail(index, "more than one SOA record", record.description) }
                    guard let fields = SOAFields(rdata: record.rdata) else { throw fail(index, "malformed SOA record", record.description) }
                    soa = fields
                }
            }
            closeRun()
        }
        guard let soa else { throw ZoneError(file: file, message: "no SOA record at the zone apex '\(apex)'") }
        guard owners[apex]?.types.contains(.ns) == true else {
            throw ZoneError(file: file, message: "no NS records at the zone apex '\(apex)'")
        }

        // Every in-zone name server needs an address; the names NS records
        // point to are also what makes an address below a cut glue. Marked
        // on the owner itself: one hash lookup per NS record, no set.
        try records.withUnsafeBufferPointer { (records) throws(ZoneError) in
            for index in records.indices where records[index].type == .ns {
                let target = DNSName(uncheckedWire: records[index].rdata).lowercased()
                guard target.isSubdomain(of: apex) else { continue }
                guard let entry = owners.index(forKey: target),
                      owners.values[entry].types.contains(.a) || owners.values[entry].types.contains(.aaaa) else {
                    throw fail(index, "name server inside the zone has no A or AAAA record (glue)", target.description)
                }
                owners.values[entry].isNameServer = true
            }
        }

        /// The line of the record at fault, not the owner's first line.
        func failAt(_ name: DNSName, _ type: RRType, _ message: String) -> ZoneError {
            let index = records.firstIndex { $0.type == type && $0.owner.lowercased() == name } ?? owners[name]!.firstIndex
            return fail(index, message, records[index].owner.description)
        }

        // A delegation is an owner other than the apex with NS records.
        let apexLabels = apex.labelCount
        var delegationCount = 0
        for (name, info) in owners where name != apex {
            let isDelegation = info.types.contains(.ns)
            if info.types.contains(.cname) && info.types.count > 1 {
                throw failAt(name, .cname, "CNAME beside other data")
            }
            if isDelegation, let type = info.types.subtracting(TypeSet.allowedAtDelegation).first {
                throw failAt(name, type, "\(type) data at a delegation point is occluded")
            }
            let labels = name.labelCount
            if isDelegation && labels == apexLabels + 1 { delegationCount += 1 }
            // Only names two or more labels below the apex can sit below a
            // delegation, and only glue may: addresses of a name server.
            guard labels > apexLabels + 1 else { continue }
            let nonGlue = info.types.subtracting(TypeSet.glue).first
            guard nonGlue != nil || !info.isNameServer,
                  let cut = enclosingDelegation(of: name, apex: apex, owners: owners) else { continue }
            if let type = nonGlue {
                throw failAt(name, type, "\(type) record below the delegation '\(cut)' is not glue")
            }
            let type: RRType = info.types.contains(.a) ? .a : .aaaa
            throw failAt(name, type, "\(type) record below the delegation '\(cut)' is not glue: no NS record names it")
        }

        return CheckedZone(apex: apex, records: records, soa: soa, delegationCount: delegationCount,
                           strippedCount: parsed.strippedCount)
    }

    struct OwnerInfo {
        var firstIndex: Int
        var types: TypeSet
        /// An NS record in the zone names it.
        var isNameServer = false
    }

    /// The nearest delegation strictly above `name` and below the apex.
    private static func enclosingDelegation(of name: DNSName, apex: DNSName, owners: [DNSName: OwnerInfo]) -> DNSName? {
        var n = name.parent
        var found: DNSName?
        while let p = n, p != apex {
            if owners[p]?.types.contains(.ns) == true { found = p }
            n = p.parent
        }
        return found
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
