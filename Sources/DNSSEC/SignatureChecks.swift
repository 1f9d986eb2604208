import Dispatch
import DNSWire
import ZoneFile

/// Why a signature in the zone does not count towards its RRset's proof.
/// None of these is an error by itself: RFC 4035 §5.3 and RFC 6840 §5.11
/// ask a validator for one valid path, and the root will carry signatures
/// it cannot use yet (an algorithm rollover signs with the new algorithm
/// before publishing its keys) or no longer (an expired one beside its
/// successor). An RRset none of whose signatures counts is refused, with
/// the reason of the first case in this order, the most telling.
public enum UncountedSignature: Hashable, Sendable, Comparable, CustomStringConvertible {
    case bad(keyTag: UInt16)
    case expired(keyTag: UInt16)
    case notYetValid(keyTag: UInt16)
    case unusableKey(keyTag: UInt16)
    /// RFC 5011 §2.1: a revoked key signs only the DNSKEY set, to announce
    /// its revocation; anything else it signs proves nothing.
    case revokedKey(keyTag: UInt16)
    case unpublishedKey(keyTag: UInt16, algorithm: UInt8)
    case unsupportedAlgorithm(UInt8)

    /// "by algorithm 18 not checked (unsupported)": follows a count of signatures.
    public var description: String {
        switch self {
        case .unsupportedAlgorithm(let a): "by algorithm \(a) not checked (unsupported)"
        case .unpublishedKey(let tag, let a): "by key \(tag) (algorithm \(a), not published)"
        case .expired(let tag): "by key \(tag) expired"
        case .notYetValid(let tag): "by key \(tag) not yet valid"
        case .revokedKey(let tag): "by key \(tag) (revoked) over other data than the DNSKEY set"
        case .unusableKey(let tag): "by key \(tag) (the key does not read)"
        case .bad(let tag): "by key \(tag) that do not verify"
        }
    }
}

/// The RRSIGs of the zone's own data checked against the apex DNSKEY set,
/// RRset by RRset, spread over all cores: one RSA-2048 verification costs
/// about 16 µs here, and the root has over 4,000 of them. An RRset is
/// proven by its first signature that verifies (the cheapest algorithm is
/// tried first, as a validator would); the others are not checked, except
/// over the DNSKEY set, where every key's signature matters (which keys
/// sign it decides the chain of trust and RFC 5011's revocations).
struct SignatureChecks {
    /// One RRset's signatures: those of one owner that cover one type.
    struct Task {
        var name: Int32
        var covered: RRType
        var rrsigs: ArraySlice<Int32>
    }

    struct Outcome {
        /// A signature that is malformed or cannot belong to this zone:
        /// the zone is refused whatever else signs the RRset.
        var defect: (entry: Int32, reason: String)?
        /// The key (index into the DNSKEY set) whose signature proved the
        /// RRset, and when that signature expires.
        var provenBy: Int?
        var expires: Int64?
        /// Over the DNSKEY set: every key whose signature verified.
        var signers: [Int] = []
        /// The signatures that did not count, each with the entry and the
        /// reason an operator reads when nothing proves the RRset.
        var uncounted: [(entry: Int32, why: UncountedSignature, reason: String)] = []
        var verified = 0
    }

    let zone: CanonicalZone
    let keys: [ZoneKey]
    let now: Int64
    let tasks: [Task]

    init(zone: CanonicalZone, keys: [ZoneKey], now: Int64) {
        self.zone = zone
        self.keys = keys
        self.now = now
        var tasks: [Task] = []
        for set in zone.rrsets where set.type == .rrsig {
            switch zone.names[Int(set.name)].standing {
            case .apex, .authoritative, .delegation: break
            case .belowCut, .outOfZone: continue
            }
            // Canonical order sorts RRSIG rdata, which opens with the type
            // covered: one owner's signatures come in runs, one per RRset.
            let entries = zone.entries(of: set)
            var start = entries.startIndex
            while start < entries.endIndex {
                let covered = Self.covered(zone, entries[start])
                var end = start + 1
                while end < entries.endIndex && Self.covered(zone, entries[end]) == covered { end += 1 }
                tasks.append(Task(name: set.name, covered: covered, rrsigs: entries[start..<end]))
                start = end
            }
        }
        self.tasks = tasks
    }

    static func covered(_ zone: CanonicalZone, _ entry: Int32) -> RRType {
        let rdata = zone.rdata(zone.records.entries[Int(entry)])
        guard rdata.count >= 2 else { return .rrsig }
        return RRType(rdata.bigEndianUInt16(at: rdata.startIndex))
    }

    /// In chunks, a few per core, so that a core that falls behind (the
    /// machine is shared) does not hold up the end.
    func run() -> [Outcome] {
        let count = tasks.count
        var outcomes = [Outcome](repeating: Outcome(), count: count)
        let chunk = 64
        let chunks = (count + chunk - 1) / chunk
        outcomes.withUnsafeMutableBufferPointer { results in
            nonisolated(unsafe) let results = results
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                var buffer: [UInt8] = []
                buffer.reserveCapacity(4096)
                for i in (c * chunk)..<min(count, (c + 1) * chunk) {
                    results[i] = prove(tasks[i], buffer: &buffer)
                }
            }
        }
        return outcomes
    }

    /// A signature's fields, read once.
    private struct Signature {
        var entry: Int32
        var algorithm: UInt8
        var labels: Int
        var expiration: UInt32
        var inception: UInt32
        var keyTag: UInt16
        var signer: [UInt8]
        var signature: ArraySlice<UInt8>
        /// Keys of the set with its tag and algorithm that may sign it.
        var candidates: [Int] = []
    }

    func prove(_ task: Task, buffer: inout [UInt8]) -> Outcome {
        var outcome = Outcome()
        guard let set = zone.rrset(task.name, task.covered) else {
            outcome.defect = (task.rrsigs.first!, "signature over records that are not in the zone")
            return outcome
        }
        let owner = zone.names[Int(task.name)]
        let ownerLabels = owner.labels - (owner.isWildcard ? 1 : 0)
        let isKeySet = task.covered == .dnskey && task.name == zone.apexName
        var usable: [Signature] = []
        for entry in task.rrsigs {
            var parsed: Signature
            switch read(entry) {
            case .failure(let defect):
                outcome.defect = (entry, defect.description)
                return outcome
            case .success(let signature): parsed = signature
            }
            guard parsed.signer == zone.apex.wire else {
                outcome.defect = (entry, "signer \(DNSName(uncheckedWire: parsed.signer)) is not the zone apex \(zone.apex)")
                return outcome
            }
            guard parsed.labels <= ownerLabels else {
                outcome.defect = (entry, "labels field \(parsed.labels) is more than the owner's \(ownerLabels) labels")
                return outcome
            }
            if let (why, reason) = classify(&parsed, keySet: isKeySet) {
                outcome.uncounted.append((entry, why, reason))
            } else {
                usable.append(parsed)
            }
        }
        // RSA verifies several times faster than ECDSA: try it first.
        usable.sort { Self.cost($0.algorithm) < Self.cost($1.algorithm) }
        for signature in usable {
            guard let key = verify(signature, set: set, ownerLabels: ownerLabels, buffer: &buffer) else {
                outcome.uncounted.append((signature.entry, .bad(keyTag: signature.keyTag), "bad signature by key tag \(signature.keyTag)"))
                continue
            }
            outcome.verified += 1
            let expires = now + Int64(Int32(bitPattern: signature.expiration &- UInt32(truncatingIfNeeded: now)))
            if outcome.provenBy == nil || expires > outcome.expires! {
                outcome.provenBy = key
                outcome.expires = expires
            }
            guard isKeySet else { break }
            outcome.signers.append(key)
        }
        return outcome
    }

    private static func cost(_ algorithm: UInt8) -> Int {
        switch algorithm {
        case 8, 10: 0
        case 15: 1
        default: 2
        }
    }

    private func read(_ entry: Int32) -> Result<Signature, RRSIGFields.Defect> {
        let rdata = zone.rdata(zone.records.entries[Int(entry)])
        let fields: RRSIGFields
        do {
            fields = try RRSIGFields(rdata: rdata)
        } catch {
            return .failure(error)
        }
        return .success(Signature(entry: entry, algorithm: fields.algorithm, labels: Int(fields.labels),
                                  expiration: fields.expiration, inception: fields.inception, keyTag: fields.keyTag,
                                  signer: rdata[fields.signer].map(asciiLower), signature: rdata[fields.signer.upperBound...]))
    }

    /// Why `signature` cannot prove its RRset, with the text an operator
    /// reads when nothing else proves it; nil when it is worth verifying,
    /// with its candidate keys filled in.
    private func classify(_ signature: inout Signature, keySet: Bool) -> (UncountedSignature, String)? {
        let tag = signature.keyTag, algorithm = signature.algorithm
        // RFC 4034 §3.1.5: serial number arithmetic, so times wrap in 2106.
        let now32 = UInt32(truncatingIfNeeded: now)
        guard Int32(bitPattern: now32 &- signature.expiration) <= 0 else {
            let expired = now + Int64(Int32(bitPattern: signature.expiration &- now32))
            return (.expired(keyTag: tag), "signature expired on \(Codecs.rfc3339Timestamp(epochSeconds: Int(expired))) (key tag \(tag))")
        }
        guard Int32(bitPattern: signature.inception &- now32) <= 0 else {
            let inception = now + Int64(Int32(bitPattern: signature.inception &- now32))
            return (.notYetValid(keyTag: tag), "signature not yet valid: inception \(Codecs.rfc3339Timestamp(epochSeconds: Int(inception))) (key tag \(tag))")
        }
        guard ZoneKey.supportedAlgorithms.contains(algorithm) else {
            return (.unsupportedAlgorithm(algorithm), "unsupported algorithm \(algorithm)")
        }
        let candidates = keys.indices.filter { keys[$0].keyTag == tag && keys[$0].algorithm == algorithm && keys[$0].isZoneKey }
        guard !candidates.isEmpty else {
            return (.unpublishedKey(keyTag: tag, algorithm: algorithm), "no DNSKEY with key tag \(tag) and algorithm \(algorithm) at the apex")
        }
        let signers = keySet ? candidates : candidates.filter { !keys[$0].isRevoked }
        guard !signers.isEmpty else {
            return (.revokedKey(keyTag: tag), "signed by the revoked key \(tag), which may sign only the DNSKEY set")
        }
        signature.candidates = signers.filter { keys[$0].publicKey != nil }
        guard !signature.candidates.isEmpty else {
            return (.unusableKey(keyTag: tag), keys[signers[0]].problem ?? "DNSKEY \(tag) does not read")
        }
        return nil
    }

    /// RFC 4034 §3.1.8.1: RRSIG rdata up to the signature, signer in
    /// canonical form, then each RR of the set in canonical order with the
    /// original TTL; the owner of a wildcard expansion is `*.` and the
    /// labels field's worth of the owner's rightmost labels. The key that
    /// verifies it, or nil.
    private func verify(_ signature: Signature, set: CanonicalZone.RRset, ownerLabels: Int, buffer: inout [UInt8]) -> Int? {
        let rdata = zone.rdata(zone.records.entries[Int(signature.entry)])
        let at = rdata.startIndex
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: rdata[at..<(at + 18)])
        buffer.append(contentsOf: signature.signer)
        var signedOwner = Array(zone.nameWire(set.name))
        if signature.labels < ownerLabels {
            var i = 0
            for _ in 0..<(zone.names[Int(set.name)].labels - signature.labels) { i += Int(signedOwner[i]) + 1 }
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
        return buffer.withUnsafeBytes { data in signature.candidates.first { keys[$0].verifies(signature.signature, over: data) } }
    }
}
