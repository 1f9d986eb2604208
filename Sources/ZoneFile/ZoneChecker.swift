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
        // the first record's index (for error lines).
        var owners: [DNSName: OwnerInfo] = [:]
        owners.reserveCapacity(records.count / 2)
        var soa: SOAFields?
        var previous: (name: DNSName, key: DNSName)?
        for (index, record) in records.enumerated() {
            let key: DNSName
            if let p = previous, p.name == record.owner {
                key = p.key
            } else {
                guard record.owner.isSubdomain(of: apex) else {
                    throw fail(index, "owner is outside the zone '\(apex)'", record.owner.description)
                }
                key = record.owner.lowercased()
                previous = (record.owner, key)
            }
            owners[key, default: OwnerInfo(firstIndex: index)].types.insert(record.type)
            if record.type == .soa {
                guard key == apex else { throw fail(index, "SOA record is not at the zone apex '\(apex)'", record.owner.description) }
                guard soa == nil else { throw fail(index, "more than one SOA record", record.description) }
                guard let fields = SOAFields(rdata: record.rdata) else { throw fail(index, "malformed SOA record", record.description) }
                soa = fields
            }
        }
        guard let soa else { throw ZoneError(file: file, message: "no SOA record at the zone apex '\(apex)'") }
        guard owners[apex]?.types.contains(.ns) == true else {
            throw ZoneError(file: file, message: "no NS records at the zone apex '\(apex)'")
        }

        var delegations: Set<DNSName> = []
        for (name, info) in owners where name != apex && info.types.contains(.ns) { delegations.insert(name) }

        let apexLabels = apex.labelCount
        for (name, info) in owners where name != apex {
            let index = info.firstIndex
            var owner: String { records[index].owner.description }
            if info.types.contains(.cname) && info.types.count > 1 {
                throw fail(index, "CNAME beside other data", owner)
            }
            if delegations.contains(name), let type = info.types.subtracting(TypeSet.allowedAtDelegation).first {
                throw fail(index, "\(type) data at a delegation point is occluded", owner)
            }
            // Only names two or more labels below the apex can sit below a
            // delegation; glue is all that may, so only other types look up.
            if let type = info.types.subtracting(TypeSet.glue).first, name.labelCount > apexLabels + 1,
               let cut = enclosingDelegation(of: name, apex: apex, delegations: delegations) {
                throw fail(index, "\(type) record below the delegation '\(cut)' is not glue", owner)
            }
        }

        for (index, record) in records.enumerated() where record.type == .ns {
            let target = DNSName(uncheckedWire: record.rdata).lowercased()
            guard target.isSubdomain(of: apex) else { continue }
            let types = owners[target]?.types
            guard types?.contains(.a) == true || types?.contains(.aaaa) == true else {
                throw fail(index, "name server inside the zone has no A or AAAA record (glue)", target.description)
            }
        }

        return CheckedZone(apex: apex, records: records, soa: soa,
                           delegationCount: delegations.filter { $0.parent == apex }.count,
                           strippedCount: parsed.strippedCount)
    }

    struct OwnerInfo {
        var firstIndex: Int
        var types = TypeSet()
    }

    /// The nearest delegation strictly above `name` and below the apex.
    private static func enclosingDelegation(of name: DNSName, apex: DNSName, delegations: Set<DNSName>) -> DNSName? {
        var n = name.parent
        var found: DNSName?
        while let p = n, p != apex {
            if delegations.contains(p) { found = p }
            n = p.parent
        }
        return found
    }
}

/// A set of record types as a bitmask for the common codes below 64, with an
/// overflow list for the rest: one per owner, so it must be cheap.
struct TypeSet {
    private var low: UInt64 = 0
    private var high: [RRType] = []

    static let glue = TypeSet([.a, .aaaa])
    static let allowedAtDelegation = TypeSet([.ns, .ds, .rrsig, .nsec, .a, .aaaa])

    init(_ types: [RRType] = []) {
        for type in types { insert(type) }
    }

    mutating func insert(_ type: RRType) {
        if type.rawValue < 64 {
            low |= 1 << UInt64(type.rawValue)
        } else if !high.contains(type) {
            high.append(type)
        }
    }

    func contains(_ type: RRType) -> Bool {
        type.rawValue < 64 ? low & (1 << UInt64(type.rawValue)) != 0 : high.contains(type)
    }

    var count: Int { low.nonzeroBitCount + high.count }

    func subtracting(_ other: TypeSet) -> TypeSet {
        var result = TypeSet()
        result.low = low & ~other.low
        result.high = high.filter { !other.contains($0) }
        return result
    }

    /// The lowest type code in the set.
    var first: RRType? {
        low != 0 ? RRType(UInt16(low.trailingZeroBitCount)) : high.min()
    }
}
