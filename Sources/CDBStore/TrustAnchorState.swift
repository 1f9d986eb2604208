import DNSWire
import ZoneFile
#if canImport(Glibc)
import Glibc
#endif

/// `data.cdb.anchors`: the root's trust anchors as `refresh` follows them
/// through key rollovers (RFC 5011), kept beside the data so that the
/// next run, `serve`'s `/health` and `check` read the same set. One line
/// per key, `#` comments, rewritten whole and atomically by a refresh that
/// changes it; a person can read it, and edit it with care:
///
/// ```
/// trusted 20326 8 ds=2:E06D44B8...  since=2017-02-02T00:00:00Z from=built-in
/// trusted 38696 8 ds=2:683D2D0A...  since=2024-07-18T00:00:00Z from=built-in
/// pending 14631 13 dnskey=257:3:13:mdsswUyr3D...  first_seen=2027-01-11T00:00:00Z trusted_from=2027-02-10T00:00:00Z from=rfc5011
/// revoked 20326 8 ds=2:E06D44B8...  revoked=2027-01-11T00:00:00Z from=built-in
/// ```
///
/// The key is named by its DS digest or its whole DNSKEY rdata; the times
/// are RFC 3339 UTC. `valid_from`/`valid_until` carry root-anchors.xml's
/// window for keys that came from it. Nothing in it changes from one run
/// to the next unless the trust does, so it is rewritten only then.
public struct TrustAnchorState: Sendable, Equatable {
    public enum Status: String, Sendable, CaseIterable {
        /// Opens the chain of trust (within its window, if it has one).
        case trusted
        /// Seen in a verified DNSKEY set; trusted once the hold-down is over.
        case pending
        /// Seen revoked and self-signed: never trusted again.
        case revoked
    }

    public enum Material: Sendable, Equatable {
        case ds(digestType: UInt8, digest: [UInt8])
        case dnskey(rdata: [UInt8])
    }

    public struct Key: Sendable, Equatable {
        public var status: Status
        public var keyTag: UInt16
        public var algorithm: UInt8
        public var material: Material
        /// Trusted: since when; pending: first seen; revoked: since when.
        public var since: Int64?
        /// Pending: when the hold-down ends.
        public var trustedFrom: Int64?
        public var validFrom: Int64?
        public var validUntil: Int64?
        /// `built-in`, the anchor file it was read from, or `rfc5011`.
        public var origin: String

        public init(status: Status, keyTag: UInt16, algorithm: UInt8, material: Material, since: Int64? = nil,
                    trustedFrom: Int64? = nil, validFrom: Int64? = nil, validUntil: Int64? = nil,
                    origin: String) {
            self.status = status
            self.keyTag = keyTag
            self.algorithm = algorithm
            self.material = material
            self.since = since
            self.trustedFrom = trustedFrom
            self.validFrom = validFrom
            self.validUntil = validUntil
            self.origin = origin
        }

        /// Trusted, and inside its window at `now`.
        public func isTrusted(at now: Int64) -> Bool {
            status == .trusted && (validFrom.map { $0 <= now } ?? true) && (validUntil.map { now < $0 } ?? true)
        }
    }

    public var keys: [Key] = []

    public init(keys: [Key] = []) { self.keys = keys }

    public static func path(forData data: String) -> String { "\(data).anchors" }

    /// The state beside `data`: nil when there is none yet (the first
    /// refresh starts from the seeds). A line that does not read is an
    /// error naming it: a trust decision is not taken on a guess.
    public static func read(forData data: String) throws(StoreError) -> TrustAnchorState? {
        let path = path(forData: data)
        guard let bytes = try readSmallFile(path, limit: 1 << 20, followingLinks: false) else { return nil }
        return try TrustAnchorState(parsing: String(decoding: bytes, as: UTF8.self), path: path)
    }

    public init(parsing text: String, path: String) throws(StoreError) {
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let first = fields.first, !first.hasPrefix("#") else { continue }
            func fail(_ why: String) -> StoreError { StoreError(path: "\(path):\(number + 1)", message: why) }
            guard let status = Status(rawValue: String(first)), fields.count >= 4,
                  let keyTag = UInt16(fields[1]), let algorithm = UInt8(fields[2]) else {
                throw fail("expected 'trusted|pending|revoked KEYTAG ALGORITHM ds=...|dnskey=...', not '\(line)'")
            }
            var key = Key(status: status, keyTag: keyTag, algorithm: algorithm, material: .ds(digestType: 0, digest: []), origin: "")
            var material: Material?
            for field in fields.dropFirst(3) {
                guard let equals = field.firstIndex(of: "=") else { throw fail("'\(field)' is not NAME=VALUE") }
                let name = field[..<equals], value = String(field[field.index(after: equals)...])
                func time() throws(StoreError) -> Int64 {
                    guard let t = UTCTime.parse(value).flatMap(UTCTime.checked) else {
                        throw fail("\(name): '\(value)' is not an RFC 3339 time from 1970 on")
                    }
                    return t
                }
                switch name {
                case "ds":
                    let parts = value.split(separator: ":")
                    guard parts.count == 2, let type = UInt8(parts[0]), let digest = Codecs.hexDecode(Array(parts[1].utf8)), !digest.isEmpty else {
                        throw fail("ds: '\(value)' is not DIGESTTYPE:HEX")
                    }
                    material = .ds(digestType: type, digest: digest)
                case "dnskey":
                    let parts = value.split(separator: ":")
                    guard parts.count == 4, let flags = UInt16(parts[0]), let protocolNumber = UInt8(parts[1]),
                          let keyAlgorithm = UInt8(parts[2]), let publicKey = Codecs.base64Decode(Array(parts[3].utf8)), !publicKey.isEmpty else {
                        throw fail("dnskey: '\(value)' is not FLAGS:PROTOCOL:ALGORITHM:BASE64")
                    }
                    material = .dnskey(rdata: [UInt8(flags >> 8), UInt8(flags & 0xFF), protocolNumber, keyAlgorithm] + publicKey)
                case "since", "first_seen", "revoked": key.since = try time()
                case "trusted_from": key.trustedFrom = try time()
                case "valid_from": key.validFrom = try time()
                case "valid_until": key.validUntil = try time()
                case "from": key.origin = value
                default: break // a later version's field
                }
            }
            guard let material else { throw fail("no ds= or dnskey= naming the key") }
            key.material = material
            if status == .pending && key.trustedFrom == nil { throw fail("a pending key without trusted_from=") }
            keys.append(key)
        }
    }

    public var text: String {
        var lines = [
            "# rootmirror trust anchors for the root (RFC 5011), rewritten by refresh: see README.md, \"Trust anchors\".",
            "# A pending key is trusted from trusted_from if the root still publishes it then; a revoked key never again.",
        ]
        for key in keys {
            var fields = [key.status.rawValue, "\(key.keyTag)", "\(key.algorithm)"]
            switch key.material {
            case .ds(let type, let digest): fields.append("ds=\(type):\(Codecs.hexEncode(digest))")
            case .dnskey(let rdata):
                fields.append("dnskey=\(rdata.bigEndianUInt16(at: 0)):\(rdata[2]):\(rdata[3]):\(Codecs.base64Encode(rdata.dropFirst(4)))")
            }
            func time(_ name: String, _ t: Int64?) {
                if let t { fields.append("\(name)=\(Codecs.rfc3339Timestamp(epochSeconds: Int(t)))") }
            }
            time(key.status == .pending ? "first_seen" : key.status == .revoked ? "revoked" : "since", key.since)
            time("trusted_from", key.trustedFrom)
            time("valid_from", key.validFrom)
            time("valid_until", key.validUntil)
            // A file name with a blank would split the line.
            fields.append("from=\(String(key.origin.map { $0 == " " || $0 == "\t" ? "_" : $0 }))")
            lines.append(fields.joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What an operator reads in `check` and `/health`: the keys trusted
    /// now, and each pending key with the day it becomes trusted.
    public func summary(at now: Int64) -> String {
        let trusted = keys.filter { $0.isTrusted(at: now) }.map { "\($0.keyTag)" }
        var text = "trust anchors " + (trusted.isEmpty ? "none" : trusted.joined(separator: " "))
        for key in keys where key.status == .pending {
            text += ", \(key.keyTag) pending until \(Codecs.rfc3339Timestamp(epochSeconds: Int(key.trustedFrom ?? 0)))"
        }
        return text
    }

    /// Temporary file, fsync, rename, as for the refresh state.
    public func write(forData data: String) throws(StoreError) {
        try writeAtomically(Array(text.utf8), to: Self.path(forData: data))
    }
}
