import DNSWire

/// The load-time work behind `ZoneIndex`, in the order it is done: the
/// records grouped into RRsets, the names a lookup walks, then every reply
/// template (negative, denial, per node), packed into one block.
struct IndexBuild {
    let apex: DNSName
    let soaRecord: ResourceRecord
    let soa: SOAFields
    /// Signed data gets a second, DO set of templates; stripped data (the
    /// default) does not: DO changes nothing there.
    let isSigned: Bool
    /// RRsets by owner (lowercased), owners in the order they first appear.
    let rrsets: [DNSName: [RRType: [ResourceRecord]]]
    let delegations: Set<DNSName>
    /// The nodes: the apex, every name with data not hidden below a cut, and
    /// the empty non-terminals above them (they exist: NODATA, not NXDOMAIN).
    let names: [DNSName]
    let nodeOf: [DNSName: Int]
    /// Every template so far, back to back (`ResponseTemplate.packed`).
    private(set) var packed: [UInt8] = []
    /// The DO template of each NSEC, in the denial chain's order.
    private var nsecProofs: [Int] = []

    init(records: [ResourceRecord], summary: ZoneSummary) {
        apex = summary.apex
        soaRecord = summary.soaRecord
        soa = summary.soa
        isSigned = summary.signaturesExpire != nil
        var rrsets: [DNSName: [RRType: [ResourceRecord]]] = [:]
        var ownerOrder: [DNSName] = []
        for record in records where record.owner.isSubdomain(of: summary.apex) {
            let owner = record.owner.lowercased()
            if rrsets[owner] == nil { ownerOrder.append(owner) }
            rrsets[owner, default: [:]][record.type, default: []].append(record)
        }
        self.rrsets = rrsets
        let apex = summary.apex
        let delegations = Set(ownerOrder.filter { $0 != apex && rrsets[$0]?[.ns] != nil })
        self.delegations = delegations
        func isBelowDelegation(_ name: DNSName) -> Bool {
            var n = name.parent
            while let p = n, p != apex {
                if delegations.contains(p) { return true }
                n = p.parent
            }
            return false
        }
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
        self.names = names
        self.nodeOf = nodeOf
    }

    /// The plain negative SOA and its DO form (the SOA with its RRSIGs,
    /// which the NSEC proofs follow); the same template twice for stripped data.
    mutating func negativeTemplates() -> (plain: Int, signed: Int) {
        var negativeSOA = soaRecord
        negativeSOA.owner = apex
        negativeSOA.ttl = min(soaRecord.ttl, soa.minimum)
        var builder = ResponseTemplate.Builder(anchor: apex)
        builder.add(negativeSOA, section: .authority)
        let plain = add(builder.build())
        guard isSigned else { return (plain, plain) }
        return (plain, authority(Signed(set: [negativeSOA], signatures: signed(apex, .soa).signatures)))
    }

    /// NXDOMAIN's NSEC proofs by gap, each gap with the closest encloser
    /// candidates its names can have; empty for stripped data.
    mutating func denialChain() -> DenialChain {
        let nsecOwners = DenialChain.canonicallySorted(isSigned ? names.filter { rrsets[$0]?[.nsec] != nil } : [])
        var denial = DenialChain(sortedOwners: nsecOwners)
        nsecProofs = []
        for owner in nsecOwners { nsecProofs.append(authority(signed(owner, .nsec))) }
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
        return denial
    }

    /// Every node, with its answers by type or its referral, in `names`' order.
    mutating func nodes(denial: DenialChain) -> ([ZoneIndex.Node], [ZoneIndex.Answer]) {
        var built: [ZoneIndex.Node] = []
        var answers: [ZoneIndex.Answer] = []
        for name in names {
            let first = answers.count
            var node = delegations.contains(name) && rrsets[name]?[.ns] != nil
                ? referralNode(name, answers: &answers)
                : answerNode(name, answers: &answers)
            node.answers = first..<answers.count
            // An empty non-terminal has no NSEC of its own: the one whose gap
            // holds it proves it (for an owner, its gap is its own).
            node.noDataProof = denial.isEmpty ? nil : nsecProofs[denial.gap(of: name)]
            built.append(node)
        }
        return (built, answers)
    }

    /// A delegation: its NS and glue, with DO its DS proof, and a DS answer when it has DS.
    private mutating func referralNode(_ name: DNSName, answers: inout [ZoneIndex.Answer]) -> ZoneIndex.Node {
        let sets = rrsets[name] ?? [:]
        let parts = referral(ns: sets[.ns]!, cut: name)
        var node = ZoneIndex.Node(referral: add(parts.ns), referralGlue: add(parts.glue), answers: 0..<0)
        if isSigned {
            var builder = ResponseTemplate.Builder(anchor: name)
            builder.add(signed: [sets[.ds] != nil ? signed(name, .ds) : signed(name, .nsec)], section: .authority)
            node.referralProof = add(builder.build())
        }
        if sets[.ds] != nil {
            let plain = add(answer(Signed(set: records(name, .ds), signatures: []), anchor: name))
            answers.append(ZoneIndex.Answer(type: .ds, template: plain, signedTemplate: node.referralProof ?? plain,
                                            signedIsReferralProof: node.referralProof != nil))
        }
        return node
    }

    /// A name inside the zone: an answer per type it holds, plain and with DO.
    private mutating func answerNode(_ name: DNSName, answers: inout [ZoneIndex.Answer]) -> ZoneIndex.Node {
        let sets = rrsets[name] ?? [:]
        for type in sets.keys {
            let plain = add(answer(Signed(set: records(name, type), signatures: []), anchor: name))
            let signedTemplate = isSigned ? add(answer(Signed(set: records(name, type), signatures: signed(name, type).signatures), anchor: name)) : plain
            answers.append(ZoneIndex.Answer(type: type, template: plain, signedTemplate: signedTemplate))
        }
        return ZoneIndex.Node(referralGlue: 0, answers: 0..<0, anyType: sets[.soa] != nil ? .soa : sets.keys.min())
    }

    /// What a query for `type` at `name` gets. For RRSIG one signature, the
    /// first in canonical order, as Knot answers: all of a name's (four or
    /// five at the root's apex) would make a 47-byte query a 1,172-byte
    /// reply, and no resolver asks for them this way.
    private func records(_ name: DNSName, _ type: RRType) -> [ResourceRecord] {
        let set = rrsets[name]?[type] ?? []
        return type == .rrsig ? set.min { $0.rdata.lexicographicallyPrecedes($1.rdata) }.map { [$0] } ?? [] : set
    }

    /// The RRset `type` at `name` and the RRSIGs that cover it.
    private func signed(_ name: DNSName, _ type: RRType) -> Signed {
        let covering = (rrsets[name]?[.rrsig] ?? []).filter { (try? RRSIGFields(rdata: $0.rdata))?.typeCovered == type }
        return Signed(set: rrsets[name]?[type] ?? [], signatures: covering)
    }

    /// A name's A and AAAA records, for glue and additional data.
    private func addresses(of target: DNSName) -> [[ResourceRecord]] {
        let key = target.lowercased()
        return [rrsets[key]?[.a] ?? [], rrsets[key]?[.aaaa] ?? []]
    }

    /// Packs `template` into the block; a template is known by its offset.
    private mutating func add(_ template: ResponseTemplate) -> Int {
        defer { packed += template.packed }
        return packed.count
    }

    /// A template of `signed` alone in the authority section.
    private mutating func authority(_ signed: Signed) -> Int {
        var builder = ResponseTemplate.Builder(anchor: apex)
        builder.add(signed: [signed], section: .authority)
        return add(builder.build())
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
    private func referral(ns: [ResourceRecord], cut: DNSName)
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
            let sets = addresses(of: target)
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
    private func answer(_ signed: Signed, anchor: DNSName) -> ResponseTemplate {
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
            let sets = addresses(of: target)
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
    mutating func add(signed sets: [IndexBuild.Signed], section: ResponseTemplate.Section) {
        for signed in sets { add(rrset: signed.set, section: section) }
        for signed in sets where !signed.signatures.isEmpty { add(rrset: signed.signatures, section: section) }
    }
}
