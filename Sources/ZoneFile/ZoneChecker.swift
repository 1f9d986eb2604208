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
        let apexKey = apex.lowercased().wire
        var soa: SOAFields?
        var apexHasNS = false
        var delegations: Set<[UInt8]> = []
        var addressed: Set<[UInt8]> = []
        var typesByOwner: [[UInt8]: Set<RRType>] = [:]
        var lowered: [[UInt8]] = []
        lowered.reserveCapacity(parsed.records.count)

        func fail(_ index: Int, _ message: String, _ text: String) -> ZoneError {
            ZoneError(file: file, line: parsed.lines[index], message: message, text: text)
        }

        var previousOwner: DNSName?
        var previousKey: [UInt8] = []
        for (index, record) in parsed.records.enumerated() {
            let key: [UInt8]
            if record.owner == previousOwner {
                key = previousKey
            } else {
                guard record.owner.isSubdomain(of: apex) else {
                    throw fail(index, "owner is outside the zone '\(apex)'", record.owner.description)
                }
                key = record.owner.lowercased().wire
                previousOwner = record.owner
                previousKey = key
            }
            lowered.append(key)
            typesByOwner[key, default: []].insert(record.type)
            switch record.type {
            case .soa:
                guard key == apexKey else { throw fail(index, "SOA record is not at the zone apex '\(apex)'", record.owner.description) }
                guard soa == nil else { throw fail(index, "more than one SOA record", record.description) }
                guard let fields = SOAFields(rdata: record.rdata) else { throw fail(index, "malformed SOA record", record.description) }
                soa = fields
            case .ns:
                if key == apexKey { apexHasNS = true } else { delegations.insert(key) }
            case .a, .aaaa:
                addressed.insert(key)
            default:
                break
            }
        }
        guard let soa else { throw ZoneError(file: file, message: "no SOA record at the zone apex '\(apex)'") }
        guard apexHasNS else { throw ZoneError(file: file, message: "no NS records at the zone apex '\(apex)'") }

        var checkedOwner: [UInt8]? = nil
        for (index, record) in parsed.records.enumerated() {
            let key = lowered[index]
            if record.type == .ns {
                let target = DNSName(uncheckedWire: record.rdata)
                if target.isSubdomain(of: apex) && !addressed.contains(target.lowercased().wire) {
                    throw fail(index, "name server inside the zone has no A or AAAA record (glue)", target.description)
                }
            }
            if record.type == .cname && typesByOwner[key]!.count > 1 {
                throw fail(index, "CNAME beside other data", record.owner.description)
            }
            guard key != apexKey, key != checkedOwner else { continue }
            if delegations.contains(key) {
                for type in typesByOwner[key]! where ![.ns, .ds, .rrsig, .nsec, .a, .aaaa].contains(type) {
                    throw fail(index, "\(type) data at a delegation point is occluded", record.owner.description)
                }
            }
            if let cut = enclosingDelegation(of: key, apexLength: apexKey.count, delegations: delegations) {
                for type in typesByOwner[key]! where type != .a && type != .aaaa {
                    throw fail(index, "\(type) record below the delegation '\(DNSName(uncheckedWire: cut))' is not glue",
                               record.owner.description)
                }
            }
            checkedOwner = key
        }
        return CheckedZone(apex: apex, records: parsed.records, soa: soa,
                           delegationCount: delegations.filter { DNSName(uncheckedWire: $0).parent?.lowercased().wire == apexKey }.count,
                           strippedCount: parsed.strippedCount)
    }

    /// The nearest delegation strictly above `name` and below the apex.
    private static func enclosingDelegation(of name: [UInt8], apexLength: Int, delegations: Set<[UInt8]>) -> [UInt8]? {
        var i = Int(name[0]) + 1
        var found: [UInt8]?
        while name.count - i > apexLength {
            let suffix = Array(name[i...])
            if delegations.contains(suffix) { found = suffix }
            i += Int(name[i]) + 1
        }
        return found
    }
}
