import Crypto
import Dispatch
import DNSWire
import ZoneFile

/// What the verification demands of a zone, and what it trusts.
public struct VerificationPolicy: Sendable {
    /// `required`: the proof must be there and hold. `optional`: it must hold
    /// if the zone carries it. `off`: not looked at (private zones that carry
    /// neither; the caller says so in its log).
    public enum Requirement: String, Sendable, CaseIterable {
        case required, optional, off
    }

    public var dnssec: Requirement
    public var zonemd: Requirement
    /// Anchors for other owners than the zone's apex are ignored.
    public var anchors: [TrustAnchor]
    /// Seconds since the epoch: signatures must be valid at this time.
    public var now: Int64

    public init(dnssec: Requirement = .required, zonemd: Requirement = .required, anchors: [TrustAnchor], now: Int64) {
        self.dnssec = dnssec
        self.zonemd = zonemd
        self.anchors = anchors
        self.now = now
    }
}

/// What was proven.
public struct VerificationReport: Sendable, Equatable {
    /// One key of the apex DNSKEY set, as RFC 5011's bookkeeping needs it.
    public struct ApexKey: Sendable, Equatable {
        public var rdata: [UInt8]
        public var keyTag: UInt16
        /// It matched a trust anchor (never a revoked key).
        public var trusted: Bool
        /// Its signature over the DNSKEY set verified: for a revoked key,
        /// the self-signature that makes the revocation count.
        public var signsKeySet: Bool

        public var flags: UInt16 { rdata.count >= 2 ? rdata.bigEndianUInt16(at: 0) : 0 }
        public var algorithm: UInt8 { rdata.count > 3 ? rdata[3] : 0 }
        public var isRevoked: Bool { flags & 0x0080 != 0 }
        /// A zone key with the SEP bit: what a trust anchor names.
        public var isKeySigningKey: Bool { flags & 0x0101 == 0x0101 }
    }

    public var serial: UInt32
    public var dnssecVerified = false
    public var zonemdVerified = false
    /// Signatures verified good.
    public var signaturesChecked = 0
    /// The apex DNSKEY set.
    public var apexKeys: [ApexKey] = []
    /// Signatures that proved nothing, counted by why; the RRsets they
    /// cover were proven by others.
    public var uncounted: [UncountedSignature: Int] = [:]
    /// `SHA-384` or `SHA-512`: the ZONEMD digest that matched.
    public var zonemdHash: String?
    /// The earliest expiration of the signatures that prove the zone,
    /// seconds since the epoch.
    public var signaturesExpire: Int64?

    /// The report on a zone at `serial` when nothing was checked.
    public init(serial: UInt32) {
        self.serial = serial
    }

    public var keyTags: [UInt16] { apexKeys.map(\.keyTag) }
    public var anchoredKeyTags: [UInt16] { apexKeys.filter(\.trusted).map(\.keyTag) }

    /// `dnssec`, `zonemd`: the checks that passed, for DATA.state and /health.
    public var verified: [String] {
        (dnssecVerified ? ["dnssec"] : []) + (zonemdVerified ? ["zonemd"] : [])
    }

    public var summary: String {
        var parts = ["serial \(serial)"]
        if dnssecVerified {
            let anchored = anchoredKeyTags.map(String.init).joined(separator: ", ")
            parts.append("\(signaturesChecked) signatures good, \(keyTags.count) keys (\(anchored) trusted)")
            parts += uncounted.sorted { $0.key < $1.key }.enumerated().map { i, counted in
                "\(counted.value) \(i == 0 ? (counted.value == 1 ? "signature " : "signatures ") : "")\(counted.key)"
            }
        } else {
            parts.append("DNSSEC not checked")
        }
        parts.append(zonemdHash.map { "ZONEMD \($0) good" } ?? "ZONEMD not checked")
        if let signaturesExpire { parts.append("earliest signature expiry \(Codecs.rfc3339Timestamp(epochSeconds: Int(signaturesExpire)))") }
        return parts.joined(separator: ", ")
    }
}

/// Why a zone is not trusted: the record (owner, type, file line) and the
/// reason, as one line.
public struct VerificationError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var owner: DNSName?
    public var type: RRType?
    public var reason: String

    public var description: String {
        var s = file
        if let line, line > 0 { s += ":\(line)" }
        if let owner { s += ": \(owner)" + (type.map { " \($0)" } ?? "") }
        return s + ": " + reason
    }
}

/// DNSSEC (RFC 4035 §5) and ZONEMD (RFC 8976) verification of a parsed zone,
/// before anything is stripped: the apex DNSKEY set signed by a key an
/// anchor names, every RRSIG good by a key of that set and valid now, every
/// authoritative RRset signed, the NSEC chain whole with bitmaps that match
/// the data, and a ZONEMD digest that matches. The first failure is thrown.
public enum ZoneVerifier {
    public static func verify(_ records: PackedRecords, apex: DNSName, file: String,
                              policy: VerificationPolicy) throws(VerificationError) -> VerificationReport {
        let zone = CanonicalZone(records, apex: apex)
        var check = Check(zone: zone, file: file, policy: policy)
        return try check.run()
    }
}

struct Check {
    let zone: CanonicalZone
    let file: String
    let policy: VerificationPolicy

    func error(entry: Int32?, name: Int32? = nil, type: RRType? = nil, _ reason: String) -> VerificationError {
        let e = entry.map { zone.records.entries[Int($0)] }
        let owner = name.map { zone.dnsName($0) } ?? e.map { zone.records.owner(of: $0) }
        return VerificationError(file: file, line: e.map { Int($0.line) }, owner: owner, type: type ?? e?.type, reason: reason)
    }

    mutating func run() throws(VerificationError) -> VerificationReport {
        guard let apex = zone.apexName, let soaSet = zone.rrset(apex, .soa) else {
            throw VerificationError(file: file, owner: zone.apex, type: .soa, reason: "no SOA at the zone apex")
        }
        let soaEntry = zone.records.entries[Int(zone.order[Int(soaSet.first)])]
        guard let serial = SOAFields(rdata: Array(zone.rdata(soaEntry)))?.serial else {
            throw VerificationError(file: file, owner: zone.apex, type: .soa, reason: "the apex SOA's rdata is malformed")
        }
        var report = VerificationReport(serial: serial)
        if policy.dnssec != .off {
            try dnssec(apex: apex, report: &report)
        }
        if policy.zonemd != .off {
            try zonemd(apex: apex, serial: serial, report: &report)
        }
        return report
    }

    // MARK: DNSSEC

    mutating func dnssec(apex: Int32, report: inout VerificationReport) throws(VerificationError) {
        let soaEntry = zone.order[Int(zone.rrset(apex, .soa)!.first)]
        guard let keySet = zone.rrset(apex, .dnskey) else {
            if policy.dnssec == .optional { return }
            throw error(entry: soaEntry, type: .dnskey, "no DNSKEY at the apex: the zone is not signed")
        }
        if zone.rrset(apex, .nsec3param) != nil {
            throw error(entry: soaEntry, type: .nsec3param, "unsupported: NSEC3 chains are not verified")
        }
        let keyEntries = Array(zone.entries(of: keySet))
        let keys = keyEntries.map { ZoneKey(rdata: Array(zone.rdata(zone.records.entries[Int($0)]))) }
        let anchored = try anchoredKeys(keys, firstKey: keyEntries[0])

        let signatures = SignatureChecks(zone: zone, keys: keys, now: policy.now)
        let outcomes = signatures.run()
        var failures: [(entry: Int32, type: RRType, reason: String)] = []
        var keySetSigners: [Int] = []
        var expires: Int64?
        for (task, outcome) in zip(signatures.tasks, outcomes) {
            if let defect = outcome.defect {
                failures.append((defect.entry, task.covered, defect.reason))
                continue
            }
            report.signaturesChecked += outcome.verified
            if task.name == apex && task.covered == .dnskey {
                keySetSigners = outcome.signers
                // The chain opens only with a key an anchor names.
                let trusted = outcome.signers.filter(anchored.contains)
                guard !trusted.isEmpty else {
                    if outcome.provenBy == nil, let worst = outcome.uncounted.min(by: { $0.why < $1.why }) {
                        failures.append((worst.entry, task.covered, worst.reason))
                    } else {
                        failures.append((outcome.uncounted.first?.entry ?? task.rrsigs.first!, .dnskey,
                                         "the DNSKEY set is not signed by a key that matches the trust anchors (key tags "
                                         + anchored.map { String(keys[$0].keyTag) }.joined(separator: ", ") + ")"))
                    }
                    continue
                }
            } else if outcome.provenBy == nil {
                // Nothing proves it: the reason of its most telling signature.
                let worst = outcome.uncounted.min { $0.why < $1.why }!
                failures.append((worst.entry, task.covered, worst.reason))
                continue
            }
            for uncounted in outcome.uncounted { report.uncounted[uncounted.why, default: 0] += 1 }
            if let e = outcome.expires { expires = min(expires ?? e, e) }
        }
        // The first failure in file order: what an operator reads from the top.
        if let first = failures.min(by: { zone.records.entries[Int($0.entry)].line < zone.records.entries[Int($1.entry)].line }) {
            throw error(entry: first.entry, type: first.type, first.reason)
        }
        try everyRRsetSigned(signatures)
        try nsecChain(apex: apex)
        report.apexKeys = keys.indices.map { k in
            VerificationReport.ApexKey(rdata: keys[k].rdata, keyTag: keys[k].keyTag, trusted: anchored.contains(k),
                                       signsKeySet: keySetSigners.contains(k))
        }
        report.signaturesExpire = expires
        report.dnssecVerified = true
    }

    /// The keys of the set that an anchor valid now names; a revoked key
    /// never counts (RFC 5011 §2.1), whatever an anchor says.
    func anchoredKeys(_ keys: [ZoneKey], firstKey: Int32) throws(VerificationError) -> [Int] {
        let apexAnchors = policy.anchors.filter { $0.owner == zone.apex }
        guard !apexAnchors.isEmpty else {
            throw error(entry: firstKey, "no trust anchor for \(zone.apex)")
        }
        let anchors = apexAnchors.filter { $0.isValid(at: policy.now) }
        guard !anchors.isEmpty else {
            throw error(entry: firstKey, "no trust anchor for \(zone.apex) is valid on \(Codecs.rfc3339Timestamp(epochSeconds: Int(policy.now))) "
                        + "(key tags \(apexAnchors.map { String($0.keyTag) }.joined(separator: ", ")))")
        }
        let anchored = keys.indices.filter { k in
            keys[k].isZoneKey && !keys[k].isRevoked && anchors.contains { $0.matches(dnskey: keys[k].rdata) }
        }
        guard anchored.isEmpty else { return anchored }
        let tags = anchors.map { String($0.keyTag) }.joined(separator: ", ")
        let digestTypes = Set(anchors.compactMap { anchor -> UInt8? in
            if case .ds(_, _, let type, _) = anchor.kind, type != 2, type != 4 { return type }
            return nil
        }).sorted().map(String.init)
        var notes = digestTypes.isEmpty ? [] : ["DS digest type \(digestTypes.joined(separator: ", ")) not supported (2 and 4 are)"]
        // The key an anchor names may be there with its REVOKE bit set,
        // under another key tag: say so, it is what the operator must act on.
        for key in keys where key.isRevoked {
            let unrevoked = [UInt8(key.flags >> 8), UInt8(key.flags & 0xFF) & ~0x80] + key.rdata.dropFirst(2)
            if let anchor = anchors.first(where: { $0.matches(dnskey: unrevoked) }) {
                notes.append("key \(anchor.keyTag) is revoked (published as key \(key.keyTag))")
            }
        }
        throw error(entry: firstKey, "no key matches the trust anchors (key tags \(tags)\(notes.isEmpty ? "" : "; " + notes.joined(separator: "; ")))")
    }

    /// RFC 4035 §2.2: every authoritative RRset is signed; at a delegation
    /// only DS and NSEC are the zone's, and below it nothing is.
    func everyRRsetSigned(_ signatures: SignatureChecks) throws(VerificationError) {
        let signed = Set(signatures.tasks.map { Int($0.name) << 16 | Int($0.covered.rawValue) })
        var unsigned: Int32?
        for set in zone.rrsets where set.type != .rrsig {
            switch zone.names[Int(set.name)].standing {
            case .apex, .authoritative: break
            case .delegation: guard set.type == .ds || set.type == .nsec else { continue }
            case .belowCut, .outOfZone: continue
            }
            guard !signed.contains(Int(set.name) << 16 | Int(set.type.rawValue)) else { continue }
            let entry = zone.order[Int(set.first)]
            if unsigned.map({ zone.records.entries[Int($0)].line > zone.records.entries[Int(entry)].line }) ?? true {
                unsigned = entry
            }
        }
        if let unsigned { throw error(entry: unsigned, "no signature") }
    }

    /// RFC 4034 §4.1: each authoritative name (delegations included, glue
    /// not) has one NSEC naming the next in canonical order, the last the
    /// apex, and its bitmap lists exactly the types there.
    func nsecChain(apex: Int32) throws(VerificationError) {
        let chain = zone.nameOrder.filter {
            switch zone.names[Int($0)].standing {
            case .apex, .authoritative, .delegation: true
            case .belowCut, .outOfZone: false
            }
        }
        for (position, name) in chain.enumerated() {
            let next = chain[(position + 1) % chain.count]
            guard let nsec = zone.rrset(name, .nsec) else {
                let first = zone.order[Int(zone.rrsets[zone.rrsetsOfName[Int(name)].lowerBound].first)]
                throw error(entry: first, type: .nsec, "no NSEC record: NSEC chain broken after \(zone.dnsName(chain[(position + chain.count - 1) % chain.count]))")
            }
            let entry = zone.order[Int(nsec.first)]
            guard nsec.count == 1 else { throw error(entry: entry, "more than one NSEC record at one name") }
            let rdata = zone.rdata(zone.records.entries[Int(entry)])
            var i = rdata.startIndex
            while i < rdata.endIndex && rdata[i] != 0 { i += Int(rdata[i]) + 1 }
            guard i < rdata.endIndex else { throw error(entry: entry, "NSEC next name runs past the rdata") }
            let nextWire = rdata[rdata.startIndex...i].map(asciiLower)
            guard nextWire[...] == zone.nameWire(next) else {
                throw error(entry: entry, "NSEC chain broken after \(zone.dnsName(name)): next is "
                            + "\(DNSName(uncheckedWire: nextWire)), the zone's next name is \(zone.dnsName(next))")
            }
            guard let listed = Codecs.types(inBitmap: rdata[(i + 1)...]) else {
                throw error(entry: entry, "NSEC type bitmap does not read")
            }
            let standing = zone.names[Int(name)].standing
            var present = Set(zone.rrsets[zone.rrsetsOfName[Int(name)]].map(\.type).filter {
                standing != .delegation || [.ns, .ds, .nsec, .rrsig].contains($0)
            })
            present.insert(.rrsig)
            let listedSet = Set(listed)
            guard listedSet == present else {
                let missing = present.subtracting(listedSet).sorted().map(\.description)
                let extra = listedSet.subtracting(present).sorted().map(\.description)
                let detail = (missing.isEmpty ? [] : ["lacks " + missing.joined(separator: " ")])
                    + (extra.isEmpty ? [] : ["lists absent " + extra.joined(separator: " ")])
                throw error(entry: entry, "NSEC type bitmap does not match the data: " + detail.joined(separator: ", "))
            }
        }
    }

    // MARK: ZONEMD

    func zonemd(apex: Int32, serial: UInt32, report: inout VerificationReport) throws(VerificationError) {
        let soaEntry = zone.order[Int(zone.rrset(apex, .soa)!.first)]
        guard let set = zone.rrset(apex, .zonemd) else {
            if policy.zonemd == .optional { return }
            throw error(entry: soaEntry, type: .zonemd, "no ZONEMD record at the apex")
        }
        var candidates: [(entry: Int32, hash: UInt8, digest: ArraySlice<UInt8>)] = []
        for entry in zone.entries(of: set) {
            let rdata = zone.rdata(zone.records.entries[Int(entry)])
            guard rdata.count >= 6 else { throw error(entry: entry, "ZONEMD rdata too short") }
            let at = rdata.startIndex
            // RFC 8976 §4: unknown schemes and hash algorithms are skipped.
            guard rdata[at + 4] == 1, rdata[at + 5] == 1 || rdata[at + 5] == 2 else { continue }
            let recordSerial = rdata.bigEndianUInt32(at: at)
            guard recordSerial == serial else {
                throw error(entry: entry, "ZONEMD serial \(recordSerial) does not match the SOA serial \(serial)")
            }
            candidates.append((entry, rdata[at + 5], rdata[(at + 6)...]))
        }
        guard !candidates.isEmpty else {
            throw error(entry: zone.order[Int(set.first)], "no ZONEMD record with a supported scheme and hash (SIMPLE, SHA-384 or SHA-512)")
        }
        let digests = ZonemdDigest.compute(zone, apex: apex, algorithms: Set(candidates.map(\.hash)))
        if let match = candidates.first(where: { digests[$0.hash]! == Array($0.digest) }) {
            report.zonemdVerified = true
            report.zonemdHash = match.hash == 1 ? "SHA-384" : "SHA-512"
            return
        }
        throw error(entry: candidates[0].entry, "ZONEMD digest mismatch ("
                    + candidates.map { $0.hash == 1 ? "SHA-384" : "SHA-512" }.joined(separator: ", ") + ")")
    }
}
