import CDBStore
import DNSSEC
import DNSWire

/// RFC 5011 for the root: the trust anchors follow the root's own key
/// rollovers, as BIND's, Unbound's and Knot Resolver's do, so that a
/// rootmirror installed today still verifies the root after KSK-2017 is
/// revoked and after the ECDSA KSK of the algorithm rollover takes over,
/// without anyone touching it.
///
/// Simplified to what a zone verified as a whole allows: a new key-signing
/// key seen in a DNSKEY set that a trusted key signs is pending; seen there
/// again after the 30-day hold-down (§2.4.1) it is trusted; gone before
/// that, it is forgotten; a key seen revoked and self-signed (§2.1) is
/// never trusted again. A trusted key missing from the set stays trusted
/// (§3, "Missing"): a zone without it cannot be signed by it anyway.
public enum AnchorTracking {
    public static let holdDown: Int64 = 30 * 86400

    /// The state this run starts from: the one on disk, with every seed
    /// (built-in or `--trust-anchor`) that is not already known added as
    /// trusted. Seeds take their window with them; a seed known already
    /// keeps what was learned of it (a revoked one stays revoked).
    public static func seeded(_ state: TrustAnchorState?, seeds: [TrustAnchor], now: Int64) -> TrustAnchorState {
        var state = state ?? TrustAnchorState()
        for seed in seeds where seed.owner.isRoot && (seed.validUntil.map { now < $0 } ?? true) {
            let material = material(seed.kind)
            if let known = state.keys.firstIndex(where: { sameKey($0.material, material) }) {
                state.keys[known].validFrom = seed.validFrom
                state.keys[known].validUntil = seed.validUntil
            } else {
                state.keys.append(TrustAnchorState.Key(status: .trusted, keyTag: seed.keyTag, algorithm: seed.algorithm, material: material,
                                                       since: seed.validFrom ?? now,
                                                       validFrom: seed.validFrom, validUntil: seed.validUntil, origin: seed.source))
            }
        }
        return state
    }

    /// The anchors a zone is verified against: the trusted keys inside their window.
    public static func anchors(_ state: TrustAnchorState, now: Int64) -> [TrustAnchor] {
        state.keys.filter { $0.isTrusted(at: now) }.map { key in
            let kind: TrustAnchor.Kind = switch key.material {
            case .ds(let type, let digest): .ds(keyTag: key.keyTag, algorithm: key.algorithm, digestType: type, digest: digest)
            case .dnskey(let rdata): .dnskey(rdata: rdata)
            }
            return TrustAnchor(owner: .root, kind: kind, validFrom: key.validFrom, validUntil: key.validUntil, source: key.origin)
        }
    }

    /// The state after a zone whose DNSKEY set `report` describes was
    /// verified (and so signed by a trusted key) and accepted, and one line
    /// per change, for the log.
    public static func update(_ state: TrustAnchorState, after report: VerificationReport, now: Int64)
        -> (state: TrustAnchorState, changes: [String]) {
        var state = state
        var changes: [String] = []
        for key in report.apexKeys where key.isRevoked && key.signsKeySet {
            let unrevoked = TrustAnchorState.Material.dnskey(rdata: [UInt8(key.flags >> 8), UInt8(key.flags & 0xFF) & ~0x80]
                                                             + key.rdata.dropFirst(2))
            for i in state.keys.indices where state.keys[i].status != .revoked && sameKey(state.keys[i].material, unrevoked) {
                changes.append("key \(state.keys[i].keyTag) (algorithm \(key.algorithm)) was \(state.keys[i].status) and is revoked "
                               + "(published as key \(key.keyTag) with the REVOKE bit, self-signed): never trusted again")
                state.keys[i].status = .revoked
                state.keys[i].since = now
                state.keys[i].trustedFrom = nil
            }
        }
        let published = report.apexKeys.filter { $0.isKeySigningKey && !$0.isRevoked }
        for key in published {
            let material = TrustAnchorState.Material.dnskey(rdata: key.rdata)
            guard let i = state.keys.firstIndex(where: { sameKey($0.material, material) }) else {
                state.keys.append(TrustAnchorState.Key(status: .pending, keyTag: key.keyTag, algorithm: key.algorithm, material: material,
                                                       since: now, trustedFrom: now + holdDown, origin: "rfc5011"))
                changes.append("key \(key.keyTag) (algorithm \(key.algorithm)) is new in the root's DNSKEY set: pending, trusted from "
                               + "\(Codecs.rfc3339Timestamp(epochSeconds: Int(now + holdDown))) if still published then (RFC 5011 hold-down)")
                continue
            }
            if state.keys[i].status == .pending, let from = state.keys[i].trustedFrom, now >= from {
                changes.append("key \(key.keyTag) (algorithm \(key.algorithm)) is trusted: published since "
                               + "\(Codecs.rfc3339Timestamp(epochSeconds: Int(state.keys[i].since ?? now))), past the 30-day hold-down")
                state.keys[i].status = .trusted
                state.keys[i].since = now
                state.keys[i].trustedFrom = nil
            }
        }
        state.keys.removeAll { key in
            guard key.status == .pending, !published.contains(where: { sameKey(key.material, .dnskey(rdata: $0.rdata)) }) else { return false }
            changes.append("key \(key.keyTag) (algorithm \(key.algorithm)) left the root's DNSKEY set before its hold-down ended: "
                           + "forgotten, never trusted")
            return true
        }
        return (state, changes)
    }

    static func material(_ kind: TrustAnchor.Kind) -> TrustAnchorState.Material {
        switch kind {
        case .ds(_, _, let type, let digest): .ds(digestType: type, digest: digest)
        case .dnskey(let rdata): .dnskey(rdata: rdata)
        }
    }

    /// Whether two namings are of one key: equal, or a DS that is the
    /// digest of the DNSKEY.
    static func sameKey(_ a: TrustAnchorState.Material, _ b: TrustAnchorState.Material) -> Bool {
        switch (a, b) {
        case (.ds, .ds), (.dnskey, .dnskey): return a == b
        case (.ds(let type, let digest), .dnskey(let rdata)), (.dnskey(let rdata), .ds(let type, let digest)):
            return TrustAnchor.digest(owner: .root, dnskey: rdata, type: type) == digest
        }
    }
}
