import DNSWire

/// The zone turned into answer-ready structures at load: every reply the
/// zone can give is a `ResponseTemplate` encoded here, once, so answering is
/// a name lookup and a copy (NSD and Knot work the same way).
///
/// Immutable after construction: the server shares one instance across
/// threads and replaces it whole on reload.
public final class ZoneIndex: Sendable {
    public let apex: DNSName
    public let soa: SOAFields
    /// Delegations directly below the apex (TLDs, for the root zone).
    public let delegationCount: Int
    public let recordCount: Int
    /// Addresses (4 or 16 bytes) of the apex name servers, from the zone's
    /// own glue: for the root, the 13 root servers the freshness monitor asks.
    public let apexServerAddresses: [[UInt8]]

    let table: NameTable
    let nodes: [Node]
    let apexNode: Int
    let apexLabels: Int
    /// Every reply template of the zone, packed back to back in one block
    /// (`ResponseTemplate.packed`); a template is known by its offset here.
    /// Answering reads it through a pointer: no reference counting, no
    /// copies, and one allocation instead of three per template.
    let templates: [UInt8]
    /// Positive answers: node `n`'s are `answers[n.answers]`.
    let answers: [Answer]
    /// The SOA for NXDOMAIN and NODATA, with TTL min(SOA TTL, MINIMUM)
    /// (RFC 2308 §5), anchored at the apex.
    let negative: Int

    /// Plain values only, so that reading a node costs no reference counting.
    struct Node: Sendable {
        /// Set for a delegation (NS in authority, glue in additional): the template.
        var referral: Int?
        /// Positive answers by type, anchored at this node's own name.
        var answers: Range<Int>
        /// The RRset that stands for all of them in a minimal ANY reply.
        var anyType: RRType?
    }

    struct Answer: Sendable {
        var type: RRType
        var template: Int
    }

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

    /// Builds the index from stored records. The apex is the owner of the
    /// one SOA; every record outside it is ignored, as is anything below a
    /// delegation except glue used by a referral.
    public init(records: [ResourceRecord]) throws(LoadError) {
        let soas = records.filter { $0.type == .soa }
        guard let soaRecord = soas.first, let soa = SOAFields(rdata: soaRecord.rdata) else { throw .noSOA }
        guard soas.count == 1 else { throw .multipleSOA }
        let apex = soaRecord.owner.lowercased()
        self.apex = apex
        self.soa = soa
        self.recordCount = records.count
        apexLabels = apex.labelCount

        // RRsets by owner, in file order; addresses by name for glue.
        var rrsets: [DNSName: [RRType: [ResourceRecord]]] = [:]
        var ownerOrder: [DNSName] = []
        for record in records where record.owner.isSubdomain(of: apex) {
            let owner = record.owner.lowercased()
            if rrsets[owner] == nil { ownerOrder.append(owner) }
            rrsets[owner, default: [:]][record.type, default: []].append(record)
        }
        guard rrsets[apex]?[.ns] != nil else { throw .noApexNS }
        let delegations = Set(ownerOrder.filter { $0 != apex && rrsets[$0]?[.ns] != nil })

        func isBelowDelegation(_ name: DNSName) -> Bool {
            var n = name.parent
            while let p = n, p != apex {
                if delegations.contains(p) { return true }
                n = p.parent
            }
            return false
        }

        // Nodes: the apex, every name with data not hidden below a cut, and
        // the empty non-terminals above them (they exist: NODATA, not NXDOMAIN).
        var names: [DNSName] = []
        var nodeOf: [DNSName: Int] = [:]
        func addNode(_ name: DNSName) {
            guard nodeOf[name] == nil else { return }
            nodeOf[name] = names.count
            names.append(name)
        }
        addNode(apex)
        for owner in ownerOrder where owner != apex && !isBelowDelegation(owner) {
            var chain: [DNSName] = []
            var n: DNSName? = owner
            while let p = n, p != apex {
                chain.append(p)
                n = p.parent
            }
            chain.reversed().forEach(addNode)
        }

        func addresses(of target: DNSName) -> [[ResourceRecord]] {
            let key = target.lowercased()
            return [rrsets[key]?[.a] ?? [], rrsets[key]?[.aaaa] ?? []]
        }
        apexServerAddresses = (rrsets[apex]?[.ns] ?? []).flatMap { ns in
            addresses(of: DNSName(uncheckedWire: ns.rdata)).joined().map(\.rdata)
        }

        var packed: [UInt8] = []
        func add(_ template: ResponseTemplate) -> Int {
            defer { packed += template.packed }
            return packed.count
        }
        var built: [Node] = []
        var answers: [Answer] = []
        for name in names {
            let sets = rrsets[name] ?? [:]
            let first = answers.count
            var referral: Int?
            var anyType: RRType?
            if delegations.contains(name), let ns = sets[.ns] {
                referral = add(Self.referral(ns: ns, cut: name, addresses: addresses))
                if let ds = sets[.ds] {
                    answers.append(Answer(type: .ds, template: add(Self.answer(ds, anchor: name, addresses: addresses))))
                }
            } else {
                for (type, set) in sets {
                    answers.append(Answer(type: type, template: add(Self.answer(set, anchor: name, addresses: addresses))))
                }
                anyType = sets[.soa] != nil ? .soa : sets.keys.min()
            }
            built.append(Node(referral: referral, answers: first..<answers.count, anyType: anyType))
        }
        nodes = built
        self.answers = answers
        apexNode = 0
        table = NameTable(names: names)
        delegationCount = delegations.filter { $0.parent == apex }.count

        var negativeSOA = soaRecord
        negativeSOA.owner = apex
        negativeSOA.ttl = min(soaRecord.ttl, soa.minimum)
        var builder = ResponseTemplate.Builder(anchor: apex)
        builder.add(negativeSOA, section: .authority)
        negative = add(builder.build())
        templates = packed
    }

    /// Writes template `template` (an offset in `templates`) into a reply.
    @inline(__always)
    func write(_ template: Int, into out: UnsafeMutableRawBufferPointer, at offset: Int, limit: Int,
               qnameLength: Int) -> ResponseTemplate.Placement {
        templates.withUnsafeBytes { block in
            ResponseTemplate.write(packed: block.baseAddress! + template, into: out, at: offset, limit: limit, qnameLength: qnameLength)
        }
    }

    /// NS in authority; glue in additional. Glue for name servers inside the
    /// delegated zone (in-domain, RFC 9471) is required: without it the
    /// referral is useless, so when it does not fit the reply is truncated.
    /// Other glue (sibling, e.g. gtld-servers.net for com) is optional and
    /// goes in while it fits. In both groups A records come before AAAA, so
    /// that an IPv4-only resolver without EDNS (dnscache) gets every address
    /// it can use, even in a truncated referral (`net`: 13 in-domain servers
    /// with A and AAAA need 572 bytes of glue, so TC is set at 512).
    static func referral(ns: [ResourceRecord], cut: DNSName, addresses: (DNSName) -> [[ResourceRecord]]) -> ResponseTemplate {
        var builder = ResponseTemplate.Builder(anchor: cut)
        for record in ns { builder.add(record, section: .authority) }
        var required: [[ResourceRecord]] = [[], []]
        var optional: [[ResourceRecord]] = [[], []]
        var seen: Set<DNSName> = []
        for record in ns {
            let target = DNSName(uncheckedWire: record.rdata).lowercased()
            guard seen.insert(target).inserted else { continue }
            let sets = addresses(target)
            let inDomain = target.isSubdomain(of: cut)
            for family in 0..<2 {
                if inDomain { required[family] += sets[family] } else { optional[family] += sets[family] }
            }
        }
        for glue in required[0] + required[1] { builder.add(glue, section: .additional, required: true) }
        for glue in optional[0] + optional[1] { builder.add(glue, section: .additional, required: false) }
        return builder.build()
    }

    /// The RRset in the answer section; for NS (and MX), the targets'
    /// addresses as optional additional data (RFC 1034 §4.3.2 step 6).
    static func answer(_ set: [ResourceRecord], anchor: DNSName, addresses: (DNSName) -> [[ResourceRecord]]) -> ResponseTemplate {
        var builder = ResponseTemplate.Builder(anchor: anchor)
        for record in set {
            var r = record
            r.owner = anchor
            builder.add(r, section: .answer)
        }
        var extraA: [ResourceRecord] = []
        var extraAAAA: [ResourceRecord] = []
        for record in set where record.type == .ns || record.type == .mx {
            let target = DNSName(uncheckedWire: Array(record.rdata[(record.type == .mx ? 2 : 0)...]))
            let sets = addresses(target)
            extraA += sets[0]
            extraAAAA += sets[1]
        }
        for glue in extraA + extraAAAA { builder.add(glue, section: .additional, required: false) }
        return builder.build()
    }
}
