import DNSWire

/// Answering a query from the index: RFC 1034's lookup, which finds the
/// reply's templates, and the write that copies them into the reply.
extension ZoneIndex {
    /// A query's reply, by kind, as the templates (offsets in `templates`)
    /// written in order: the first, then those that follow it.
    enum Found {
        /// The RRset asked for, or the CNAME at the name. With
        /// `isReferralProof` it is DS at a delegation, signed: the template
        /// built as the referral's DS proof, for authority, whose records
        /// are answers here.
        case answer(template: Int, isReferralProof: Bool)
        /// Below a delegation: its NS RRset in authority, with DO the DS
        /// proof (RFC 4035 §3.1.4, before any glue), then the glue.
        case referral(ns: Int, dsProof: Int?, glue: Int)
        /// The name has no RRset of the type: the SOA (with DO, signed,
        /// then the name's NSEC, which proves the type absent).
        case noData(soa: Int, nsec: Int?)
        /// No such name: the SOA (with DO, signed, then the NSEC that
        /// covers the name and, when it is another, the one that covers
        /// the wildcard at the closest encloser).
        case nxDomain(soa: Int, nameNSEC: Int?, wildcardNSEC: Int?)

        var kind: ReplyKind {
            switch self {
            case .answer: .answer
            case .referral: .referral
            case .noData: .nodata
            case .nxDomain: .nxdomain
            }
        }

        var rcode: RCode {
            if case .nxDomain = self { .nxDomain } else { .noError }
        }

        /// A referral is the delegated zone's data, not ours (RFC 1034 §4.3.2).
        var authoritative: Bool {
            if case .referral = self { false } else { true }
        }
    }

    /// RFC 1034 §4.3.2 for a server with one zone: walk down from the apex
    /// one label at a time; a delegation on the way means a referral (except
    /// DS at the cut itself, which the parent answers); a missing name means
    /// NXDOMAIN; reaching the name means its RRset or NODATA. Returns nil for
    /// a name outside the zone. With `dnssecOK` (the query's DO bit), the
    /// templates that carry RRSIGs and NSEC proofs (RFC 4035 §3.1).
    func lookup(_ p: UnsafeRawBufferPointer, qnameEnd: Int, qtype: RRType, dnssecOK: Bool) -> Found? {
        // Label start offsets of the query name, the root label excluded.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 128) { starts in
            var labels = 0
            var i = MessageHeader.size
            while p[i] != 0 {
                starts[labels] = i
                labels += 1
                i += Int(p[i]) + 1
            }
            guard labels >= apexLabels else { return nil }
            // Every name ends in the root: for the root zone (the case this
            // server is for) there is nothing to look up to know it is inside.
            if apexLabels > 0 {
                let apexStart = starts[labels - apexLabels]
                guard table.find(p, start: apexStart, length: qnameEnd - apexStart) == apexNode else { return nil }
            }
            var node = apexNode
            var depth = apexLabels
            while depth < labels {
                depth += 1
                let start = starts[labels - depth]
                guard let child = table.find(p, start: start, length: qnameEnd - start) else {
                    guard dnssecOK else { return .nxDomain(soa: negative, nameNSEC: nil, wildcardNSEC: nil) }
                    let proofs = denial.isEmpty ? nil : signedNXDomain(p, starts: starts, labels: labels, closestEncloser: node)
                    return .nxDomain(soa: signedNegative, nameNSEC: proofs?.cover, wildcardNSEC: proofs?.wildcard)
                }
                node = child
                if let referral = nodes[node].referral {
                    if depth == labels && qtype == .ds { break }
                    return .referral(ns: referral, dsProof: dnssecOK ? nodes[node].referralProof : nil, glue: nodes[node].referralGlue)
                }
            }
            let n = nodes[node]
            let type = qtype == .any ? n.anyType : qtype
            var cname: Int?
            for answer in answers[n.answers] {
                if answer.type == type {
                    return .answer(template: dnssecOK ? answer.signedTemplate : answer.template,
                                   isReferralProof: dnssecOK && answer.signedIsReferralProof)
                }
                if answer.type == .cname { cname = dnssecOK ? answer.signedTemplate : answer.template }
            }
            if qtype != .cname, let cname {
                return .answer(template: cname, isReferralProof: false)
            }
            guard dnssecOK else { return .noData(soa: negative, nsec: nil) }
            return .noData(soa: signedNegative, nsec: n.noDataProof)
        }
    }

    /// Writes a found reply: its first template, then the ones that follow
    /// it, if any, each after the last while nothing required was left out.
    @inline(__always)
    func write(_ found: Found, into out: UnsafeMutableRawBufferPointer, at offset: Int, limit: Int,
               qnameLength: Int) -> ResponseTemplate.Placement {
        templates.withUnsafeBytes { block in
            @inline(__always) func place(_ template: Int, at start: Int) -> ResponseTemplate.Placement {
                ResponseTemplate.write(packed: block.baseAddress! + template, into: out, at: start, limit: limit,
                                       qnameLength: qnameLength, firstAt: offset)
            }
            @inline(__always) func follow(_ placement: inout ResponseTemplate.Placement, with template: Int?) {
                guard let template, !placement.truncated else { return }
                placement.append(place(template, at: placement.end))
            }
            var placement: ResponseTemplate.Placement
            switch found {
            case .answer(let template, let isReferralProof):
                placement = place(template, at: offset)
                if isReferralProof {
                    let c = placement.counts
                    placement.counts = (c.answer &+ c.authority &+ c.additional, 0, 0)
                }
            case .referral(let ns, let dsProof, let glue):
                placement = place(ns, at: offset)
                follow(&placement, with: dsProof)
                follow(&placement, with: glue)
            case .noData(let soa, let nsec):
                placement = place(soa, at: offset)
                follow(&placement, with: nsec)
            case .nxDomain(let soa, let nameNSEC, let wildcardNSEC):
                placement = place(soa, at: offset)
                follow(&placement, with: nameNSEC)
                follow(&placement, with: wildcardNSEC)
            }
            return placement
        }
    }

    /// The NXDOMAIN proofs for the query name whose labels start at
    /// `starts[0..<labels]`: its canonical key, built on the stack, finds the
    /// NSEC gap that holds it.
    @inline(__always)
    private func signedNXDomain(_ p: UnsafeRawBufferPointer, starts: UnsafeMutableBufferPointer<Int>, labels: Int,
                                closestEncloser: Int) -> DenialChain.Reply {
        withUnsafeTemporaryAllocation(byteCount: DNSName.maxWireLength, alignment: 1) { key in
            var k = 0
            var label = labels
            while label > 0 {
                label &-= 1
                let start = starts[label]
                let length = Int(p[start])
                key[k] = UInt8(length)
                for j in 1...length { key[k &+ j] = asciiLower(p[start &+ j]) }
                k &+= length &+ 1
            }
            return denial.nxdomain(key: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(key)[0..<k]), closestEncloser: closestEncloser)
        }
    }
}
