import Dispatch
import DNSWire
import ZoneFile

/// Every RRSIG of the zone's own data checked against the apex DNSKEY set
/// (RFC 4035 §5.3), spread over all cores: one RSA-2048 verification costs
/// about 16 µs here, and the root has over 4,000 of them.
struct SignatureChecks {
    struct Outcome {
        var failure: String?
        /// The key (index into the DNSKEY set) whose signature it is.
        var key: Int16 = -1
        var expires: Int64?
    }

    let zone: CanonicalZone
    let keys: [ZoneKey]
    let now: Int64
    /// The RRSIG entries to check: those of authoritative names and
    /// delegations; below a cut nothing is the zone's to sign.
    let rrsigs: [Int32]

    /// With `keySetOnly`, only the signatures over the apex DNSKEY set.
    init(zone: CanonicalZone, keys: [ZoneKey], now: Int64, keySetOnly: Bool) {
        self.zone = zone
        self.keys = keys
        self.now = now
        rrsigs = zone.rrsets.filter { set in
            guard set.type == .rrsig else { return false }
            switch zone.names[Int(set.name)].standing {
            case .apex: return true
            case .authoritative, .delegation: return !keySetOnly
            case .belowCut, .outOfZone: return false
            }
        }.flatMap { zone.entries(of: $0) }.filter { !keySetOnly || Self.covered(zone, $0) == .dnskey }
    }

    func covered(_ entry: Int32) -> RRType { Self.covered(zone, entry) }

    static func covered(_ zone: CanonicalZone, _ entry: Int32) -> RRType {
        let rdata = zone.rdata(zone.records.entries[Int(entry)])
        guard rdata.count >= 2 else { return .rrsig }
        return RRType(UInt16(rdata[rdata.startIndex]) << 8 | UInt16(rdata[rdata.startIndex + 1]))
    }

    /// In chunks, a few per core, so that a core that falls behind (the
    /// machine is shared) does not hold up the end.
    func run() -> [Outcome] {
        let count = rrsigs.count
        var outcomes = [Outcome](repeating: Outcome(), count: count)
        let chunk = 64
        let chunks = (count + chunk - 1) / chunk
        outcomes.withUnsafeMutableBufferPointer { results in
            nonisolated(unsafe) let results = results
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                var buffer: [UInt8] = []
                buffer.reserveCapacity(4096)
                for i in (c * chunk)..<min(count, (c + 1) * chunk) {
                    results[i] = check(rrsigs[i], buffer: &buffer)
                }
            }
        }
        return outcomes
    }

    func check(_ entry: Int32, buffer: inout [UInt8]) -> Outcome {
        let record = zone.records.entries[Int(entry)]
        let rdata = zone.rdata(record)
        let at = rdata.startIndex
        guard rdata.count > 19 else { return Outcome(failure: "RRSIG rdata too short") }
        func u32(_ i: Int) -> UInt32 {
            UInt32(rdata[at + i]) << 24 | UInt32(rdata[at + i + 1]) << 16 | UInt32(rdata[at + i + 2]) << 8 | UInt32(rdata[at + i + 3])
        }
        let algorithm = rdata[at + 2]
        let labels = Int(rdata[at + 3])
        let expiration = u32(8), inception = u32(12)
        let keyTag = UInt16(rdata[at + 16]) << 8 | UInt16(rdata[at + 17])
        var signerEnd = at + 18
        while signerEnd < rdata.endIndex && rdata[signerEnd] != 0 { signerEnd += Int(rdata[signerEnd]) + 1 }
        guard signerEnd < rdata.endIndex else { return Outcome(failure: "RRSIG signer name runs past the rdata") }
        let signer = rdata[(at + 18)...signerEnd].map(asciiLower)
        let signature = rdata[(signerEnd + 1)...]

        // RFC 4034 §3.1.5: serial number arithmetic, so times wrap in 2106.
        let now32 = UInt32(truncatingIfNeeded: now)
        let expires = now + Int64(Int32(bitPattern: expiration &- now32))
        guard signer == zone.apex.wire else {
            return Outcome(failure: "signer \(DNSName(uncheckedWire: signer)) is not the zone apex \(zone.apex)")
        }
        guard Int32(bitPattern: now32 &- expiration) <= 0 else {
            return Outcome(failure: "signature expired on \(Codecs.rfc3339Timestamp(epochSeconds: Int(expires))) (key tag \(keyTag))")
        }
        guard Int32(bitPattern: inception &- now32) <= 0 else {
            return Outcome(failure: "signature not yet valid: inception \(Codecs.rfc3339Timestamp(epochSeconds: Int(now + Int64(Int32(bitPattern: inception &- now32)))))")
        }
        let name = zone.nameOfEntry[Int(entry)]
        let covered = RRType(UInt16(rdata[at]) << 8 | UInt16(rdata[at + 1]))
        guard let set = zone.rrset(name, covered) else { return Outcome(failure: "signature over records that are not in the zone") }
        let owner = zone.names[Int(name)]
        let ownerLabels = owner.labels - (owner.isWildcard ? 1 : 0)
        guard labels <= ownerLabels else {
            return Outcome(failure: "labels field \(labels) is more than the owner's \(ownerLabels) labels")
        }
        guard [8, 10, 13, 14, 15].contains(algorithm) else { return Outcome(failure: "unsupported algorithm \(algorithm)") }
        let candidates = keys.indices.filter { keys[$0].keyTag == keyTag && keys[$0].algorithm == algorithm && keys[$0].isZoneKey }
        guard !candidates.isEmpty else {
            return Outcome(failure: "no DNSKEY with key tag \(keyTag) and algorithm \(algorithm) at the apex")
        }
        if let problem = candidates.lazy.compactMap({ keys[$0].problem }).first, candidates.allSatisfy({ keys[$0].publicKey == nil }) {
            return Outcome(failure: problem)
        }

        // RFC 4034 §3.1.8.1: RRSIG rdata up to the signature, signer in
        // canonical form, then each RR of the set in canonical order with
        // the original TTL; the owner of a wildcard expansion is `*.` and
        // the labels field's worth of the owner's rightmost labels.
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: rdata[at..<(at + 18)])
        buffer.append(contentsOf: signer)
        var signedOwner = Array(zone.nameWire(name))
        if labels < ownerLabels {
            var i = 0
            for _ in 0..<(owner.labels - labels) { i += Int(signedOwner[i]) + 1 }
            signedOwner = [1, UInt8(ascii: "*")] + signedOwner[i...]
        }
        let originalTTL = rdata[(at + 4)..<(at + 8)]
        for member in zone.entries(of: set) {
            let e = zone.records.entries[Int(member)]
            buffer.append(contentsOf: signedOwner)
            buffer.append(UInt8(e.type.rawValue >> 8)); buffer.append(UInt8(e.type.rawValue & 0xFF))
            buffer.append(UInt8(e.rclass.rawValue >> 8)); buffer.append(UInt8(e.rclass.rawValue & 0xFF))
            buffer.append(contentsOf: originalTTL)
            buffer.append(UInt8(e.rdataLength >> 8)); buffer.append(UInt8(e.rdataLength & 0xFF))
            buffer.append(contentsOf: zone.rdata(e))
        }
        let key = buffer.withUnsafeBytes { data in candidates.first { keys[$0].verifies(signature, over: data) } }
        guard let key else { return Outcome(failure: "bad signature by key tag \(keyTag)") }
        return Outcome(key: Int16(key), expires: expires)
    }
}
