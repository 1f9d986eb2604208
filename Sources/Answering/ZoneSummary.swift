import DNSWire

/// What a zone says about itself, without an index: its apex and SOA, the
/// addresses of its apex name servers and when its first signature
/// expires. Enough for the freshness check (`rootmirror check`), which
/// would otherwise build every reply template to read a serial; the index
/// starts from the same summary, so the two cannot disagree.
public struct ZoneSummary: Sendable {
    public let apex: DNSName
    public let soa: SOAFields
    /// The SOA record itself, as NOTIFY carries it.
    public let soaRecord: ResourceRecord
    /// Addresses (4 or 16 bytes) of the apex name servers, from the zone's
    /// own glue: for the root, the 13 root servers the freshness monitor asks.
    public let apexServerAddresses: [[UInt8]]
    /// The earliest expiration of the zone's RRSIGs (RFC 4034 §3.1.5, seconds
    /// since 1970), nil when the data carries none: past it, a validating
    /// resolver treats the answers as bogus however recent the serial is.
    public let signaturesExpire: UInt32?

    public enum LoadError: Error, Sendable, CustomStringConvertible {
        case noSOA, multipleSOA, noApexNS

        public var description: String {
            switch self {
            case .noSOA: return "no SOA record"
            case .multipleSOA: return "more than one SOA record"
            case .noApexNS: return "no NS records at the apex"
            }
        }
    }

    /// The apex is the owner of the one SOA; records outside it do not count.
    public init(records: [ResourceRecord]) throws(LoadError) {
        let soas = records.filter { $0.type == .soa }
        guard let soaRecord = soas.first, let soa = SOAFields(rdata: soaRecord.rdata) else { throw .noSOA }
        guard soas.count == 1 else { throw .multipleSOA }
        let apex = soaRecord.owner.lowercased()
        let servers = records.filter { $0.type == .ns && $0.owner.lowercased() == apex }
            .map { DNSName(uncheckedWire: $0.rdata).lowercased() }
        guard !servers.isEmpty else { throw .noApexNS }
        self.apex = apex
        self.soa = soa
        self.soaRecord = soaRecord
        // Each server's A then AAAA records, servers in the NS RRset's order.
        var addresses: [DNSName: [[ResourceRecord]]] = Dictionary(servers.map { ($0, [[], []]) }, uniquingKeysWith: { first, _ in first })
        for record in records where record.type == .a || record.type == .aaaa {
            let owner = record.owner.lowercased()
            guard addresses[owner] != nil, owner.isSubdomain(of: apex) else { continue }
            addresses[owner]![record.type == .a ? 0 : 1].append(record)
        }
        apexServerAddresses = servers.flatMap { addresses[$0]!.joined().map(\.rdata) }
        signaturesExpire = records.lazy.filter { $0.type == .rrsig && $0.owner.isSubdomain(of: apex) }
            .compactMap { try? RRSIGFields(rdata: $0.rdata).expiration }.min()
    }
}
