import CDBStore
import DNSWire

/// The zone turned into answer-ready structures at load: every reply the
/// zone can give is a `ResponseTemplate` encoded here, once, so answering is
/// a name lookup and a copy. NSD and Knot instead build each reply from
/// their zone tree at query time; the root is small and fixed between
/// reloads, so spending memory at load (a few MB of templates) to copy
/// rather than assemble is the better trade here.
///
/// Immutable after construction: the server shares one instance across
/// threads and replaces it whole on reload.
public final class ZoneIndex: Sendable {
    public let apex: DNSName
    public let soa: SOAFields
    /// The SOA record itself, as NOTIFY carries it.
    public let soaRecord: ResourceRecord
    /// Delegations directly below the apex (TLDs, for the root zone).
    public let delegationCount: Int
    public let recordCount: Int
    /// Addresses (4 or 16 bytes) of the apex name servers, from the zone's
    /// own glue: for the root, the 13 root servers the freshness monitor asks.
    public let apexServerAddresses: [[UInt8]]
    /// The earliest expiration of the zone's RRSIGs (RFC 4034 §3.1.5, seconds
    /// since 1970), nil when the data carries none: past it, a validating
    /// resolver treats the answers as bogus however recent the serial is.
    public let signaturesExpire: UInt32?
    /// The zone as AXFR messages and its journal for IXFR, when transfers out are allowed.
    public let transfer: ZoneTransfer?

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
    /// For DO: the same SOA with its RRSIGs, which the NSEC proofs follow.
    /// A negative reply is written in parts, this and one template per NSEC
    /// (`Found.noData`, `Found.nxDomain`), so that the SOA's signature and each NSEC's are held
    /// once, not once per name and gap: 2.8 of the signed root's 5.9 MB of
    /// templates were copies of them.
    let signedNegative: Int
    /// NXDOMAIN's NSEC proofs by gap, for DO queries; empty without DNSSEC data.
    let denial: DenialChain

    /// Plain values only, so that reading a node costs no reference counting.
    struct Node: Sendable {
        /// Set for a delegation: the template of its NS RRset in authority,
        /// which `referralGlue` follows (and, with DO, `referralProof` precedes).
        var referral: Int?
        /// The glue in additional, its names pointing into `referral`'s.
        var referralGlue: Int
        /// Positive answers by type, anchored at this node's own name.
        var answers: Range<Int>
        /// The RRset that stands for all of them in a minimal ANY reply.
        var anyType: RRType?
        /// For DO: the DS RRset, or the NSEC proving there is none, and their
        /// RRSIGs (RFC 4035 §3.1.4), in authority after the NS RRset.
        var referralProof: Int?
        /// For DO: the NSEC proving a type absent here and its RRSIGs, which
        /// follow `signedNegative` in NODATA (RFC 4035 §3.1.3.1); nil without one.
        var noDataProof: Int?
    }

    struct Answer: Sendable {
        var type: RRType
        var template: Int
        /// For DO: the RRset with its RRSIGs (RFC 4035 §3.1.1).
        var signedTemplate: Int
        /// `signedTemplate` is a referral's DS proof, built for authority:
        /// the DS answer at a cut shares it, its records counted as answers.
        var signedIsReferralProof = false
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
    /// delegation except glue used by a referral. With `transferable`, the
    /// zone's AXFR messages too, and IXFR from `journal` (`serve --allow-transfer`).
    public init(records: [ResourceRecord], transferable: Bool = false, journal: ZoneJournal = ZoneJournal()) throws(LoadError) {
        let soas = records.filter { $0.type == .soa }
        guard let soaRecord = soas.first, let soa = SOAFields(rdata: soaRecord.rdata) else { throw .noSOA }
        guard soas.count == 1 else { throw .multipleSOA }
        let apex = soaRecord.owner.lowercased()
        self.apex = apex
        self.soa = soa
        self.soaRecord = soaRecord
        self.recordCount = records.count
        apexLabels = apex.labelCount
        transfer = transferable ? ZoneTransfer(apex: apex, soa: soaRecord, records: records, journal: journal) : nil

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

        // DNSSEC: RRSIGs by the type they cover (RFC 4034 §3.1, the first two
        // rdata bytes), and the NSEC chain. A zone without them (stripped, the
        // default) gets no second set of templates: DO changes nothing there.
        let rrsigs = ownerOrder.flatMap { rrsets[$0]?[.rrsig] ?? [] }.filter { $0.rdata.count >= 12 }
        signaturesExpire = rrsigs.map { UInt32($0.rdata[8]) << 24 | UInt32($0.rdata[9]) << 16 | UInt32($0.rdata[10]) << 8 | UInt32($0.rdata[11]) }.min()
        let isSigned = !rrsigs.isEmpty
        func signed(_ name: DNSName, _ type: RRType) -> Signed {
            let set = rrsets[name]?[type] ?? []
            let covering = (rrsets[name]?[.rrsig] ?? []).filter { $0.rdata.count >= 2 && RRType(UInt16($0.rdata[0]) << 8 | UInt16($0.rdata[1])) == type }
            return Signed(set: set, signatures: covering)
        }

        var negativeSOA = soaRecord
        negativeSOA.owner = apex
        negativeSOA.ttl = min(soaRecord.ttl, soa.minimum)
        var builder = ResponseTemplate.Builder(anchor: apex)
        builder.add(negativeSOA, section: .authority)
        negative = add(builder.build())
        /// A template of `signed` alone in the authority section.
        func authority(_ signed: Signed) -> Int {
            var builder = ResponseTemplate.Builder(anchor: apex)
            builder.add(signed: [signed], section: .authority)
            return add(builder.build())
        }
        signedNegative = isSigned ? authority(Signed(set: [negativeSOA], signatures: signed(apex, .soa).signatures)) : negative

        let nsecOwners = DenialChain.canonicallySorted(isSigned ? names.filter { rrsets[$0]?[.nsec] != nil } : [])
        var denial = DenialChain(sortedOwners: nsecOwners)
        let nsecProofs = nsecOwners.map { authority(signed($0, .nsec)) }
        let nodeNames = Set(names)
        denial.setReplies(nsecOwners.indices.map { i in
            let owner = nsecOwners[i]
            let next = nsecOwners[(i + 1) % nsecOwners.count]
            // Closest-encloser candidates: ancestors of the gap's ends that are
            // nodes and no delegation (below one, the answer is a referral).
            var candidates: [DNSName] = [apex]
            for end in [owner, next] {
                var n: DNSName? = end
                while let name = n, name != apex {
                    if nodeNames.contains(name), !delegations.contains(name), !candidates.contains(name) { candidates.append(name) }
                    n = name.parent
                }
            }
            return candidates.map { encloser in
                let wildcard = denial.gap(of: DNSName(uncheckedWire: [1, UInt8(ascii: "*")] + encloser.wire))
                return DenialChain.Reply(closestEncloser: nodeOf[encloser]!, cover: nsecProofs[i],
                                         wildcard: wildcard == i ? nil : nsecProofs[wildcard])
            }
        })
        self.denial = denial

        var built: [Node] = []
        var answers: [Answer] = []
        for name in names {
            let sets = rrsets[name] ?? [:]
            let first = answers.count
            var referral: Int?
            var referralGlue = 0
            var referralProof: Int?
            var anyType: RRType?
            /// What a query for `type` gets. For RRSIG one signature, the
            /// first in canonical order, as Knot answers: all of a name's
            /// (four or five at the root's apex) would make a 47-byte query
            /// a 1,172-byte reply, and no resolver asks for them this way.
            func records(_ type: RRType) -> [ResourceRecord] {
                type == .rrsig ? sets[type]!.min { $0.rdata.lexicographicallyPrecedes($1.rdata) }.map { [$0] } ?? [] : sets[type]!
            }
            func plainAnswer(_ type: RRType) -> Int {
                add(Self.answer(Signed(set: records(type), signatures: []), anchor: name, addresses: addresses))
            }
            func answer(_ type: RRType) -> Answer {
                let plain = plainAnswer(type)
                return Answer(type: type, template: plain,
                              signedTemplate: isSigned ? add(Self.answer(Signed(set: records(type), signatures: signed(name, type).signatures),
                                                                         anchor: name, addresses: addresses)) : plain)
            }
            if delegations.contains(name), let ns = sets[.ns] {
                let parts = Self.referral(ns: ns, cut: name, addresses: addresses)
                referral = add(parts.ns)
                referralGlue = add(parts.glue)
                if isSigned {
                    var builder = ResponseTemplate.Builder(anchor: name)
                    builder.add(signed: [sets[.ds] != nil ? signed(name, .ds) : signed(name, .nsec)], section: .authority)
                    referralProof = add(builder.build())
                }
                if sets[.ds] != nil {
                    let plain = plainAnswer(.ds)
                    answers.append(Answer(type: .ds, template: plain, signedTemplate: referralProof ?? plain,
                                          signedIsReferralProof: referralProof != nil))
                }
            } else {
                for type in sets.keys { answers.append(answer(type)) }
                anyType = sets[.soa] != nil ? .soa : sets.keys.min()
            }
            // An empty non-terminal has no NSEC of its own: the one whose gap
            // holds it proves it (for an owner, its gap is its own).
            built.append(Node(referral: referral, referralGlue: referralGlue, answers: first..<answers.count, anyType: anyType,
                              referralProof: referralProof, noDataProof: denial.isEmpty ? nil : nsecProofs[denial.gap(of: name)]))
        }
        nodes = built
        self.answers = answers
        apexNode = 0
        table = NameTable(names: names)
        delegationCount = delegations.filter { $0.parent == apex }.count
        templates = packed
    }

    /// An RRset and the RRSIGs that cover it (none for unsigned data: glue,
    /// the NS at a delegation, or any RRset when DO is not set).
    struct Signed {
        var set: [ResourceRecord]
        var signatures: [ResourceRecord]
    }

    /// NS in authority; glue in additional. Glue for name servers inside the
    /// delegated zone (in-domain, RFC 9471) is required: without it the
    /// referral is useless, so when it does not fit the reply is truncated.
    /// Other glue (sibling, e.g. gtld-servers.net for com) is optional and
    /// goes in while it fits. In both groups A records come before AAAA, so
    /// that an IPv4-only resolver without EDNS (dnscache) gets every address
    /// it can use, even in a truncated referral (`net`: 13 in-domain servers
    /// with A and AAAA need 572 bytes of glue, so TC is set at 512).
    /// Two templates, the NS RRset and the glue, so that the DO referral
    /// can put the signed DS proof between them (required before any glue,
    /// RFC 4035 §3.1.4) and share the rest with the plain one.
    static func referral(ns: [ResourceRecord], cut: DNSName, addresses: (DNSName) -> [[ResourceRecord]])
        -> (ns: ResponseTemplate, glue: ResponseTemplate) {
        var nsBuilder = ResponseTemplate.Builder(anchor: cut)
        nsBuilder.add(rrset: ns, section: .authority)
        var builder = ResponseTemplate.Builder(anchor: cut, following: nsBuilder)
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
        return (nsBuilder.build(), builder.build())
    }

    /// The RRset in the answer section; for NS (and MX), the targets'
    /// addresses as optional additional data (RFC 1034 §4.3.2 step 6).
    static func answer(_ signed: Signed, anchor: DNSName, addresses: (DNSName) -> [[ResourceRecord]]) -> ResponseTemplate {
        var builder = ResponseTemplate.Builder(anchor: anchor)
        func anchored(_ records: [ResourceRecord]) -> [ResourceRecord] {
            records.map { record in
                var r = record
                r.owner = anchor
                return r
            }
        }
        builder.add(signed: [Signed(set: anchored(signed.set), signatures: anchored(signed.signatures))], section: .answer)
        var extraA: [ResourceRecord] = []
        var extraAAAA: [ResourceRecord] = []
        for record in signed.set where record.type == .ns || record.type == .mx {
            let target = DNSName(uncheckedWire: Array(record.rdata[(record.type == .mx ? 2 : 0)...]))
            let sets = addresses(target)
            extraA += sets[0]
            extraAAAA += sets[1]
        }
        for glue in extraA + extraAAAA { builder.add(glue, section: .additional, required: false) }
        return builder.build()
    }
}

extension ResponseTemplate.Builder {
    /// RRsets, then their RRSIGs, each one unit and required: Knot's order,
    /// so that a truncated answer or referral holds the same records as
    /// Knot's (RFC 4035 §3.1.1: a reply without the RRSIGs it needs is
    /// truncated). Negative replies are parts of one RRset each (see
    /// `signedNegative`), so there each RRset is followed by its RRSIGs.
    mutating func add(signed sets: [ZoneIndex.Signed], section: ResponseTemplate.Section) {
        for signed in sets { add(rrset: signed.set, section: section) }
        for signed in sets where !signed.signatures.isEmpty { add(rrset: signed.signatures, section: section) }
    }
}
