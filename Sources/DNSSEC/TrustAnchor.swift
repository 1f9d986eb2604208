import Crypto
import DNSWire
import ZoneFile

/// A key the operator trusts for a zone's apex DNSKEY set: a DS digest of
/// it (RFC 4034 §5) or the DNSKEY itself (RFC 5011's form, `root.key`),
/// with the window IANA's root-anchors.xml gives it (RFC 9718 §2.2: a
/// KeyDigest is not used outside validFrom/validUntil).
public struct TrustAnchor: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case ds(keyTag: UInt16, algorithm: UInt8, digestType: UInt8, digest: [UInt8])
        case dnskey(rdata: [UInt8])
    }

    /// Lower case.
    public var owner: DNSName
    public var kind: Kind
    /// Seconds since the epoch; nil: no bound.
    public var validFrom: Int64?
    public var validUntil: Int64?
    /// Where it was read: `built-in`, or the file's path.
    public var source: String

    public init(owner: DNSName, kind: Kind, validFrom: Int64? = nil, validUntil: Int64? = nil, source: String = "") {
        self.owner = owner.lowercased()
        self.kind = kind
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.source = source
    }

    public var keyTag: UInt16 {
        switch kind {
        case .ds(let keyTag, _, _, _): keyTag
        case .dnskey(let rdata): ZoneKey.keyTag(rdata)
        }
    }

    public var algorithm: UInt8 {
        switch kind {
        case .ds(_, let algorithm, _, _): algorithm
        case .dnskey(let rdata): rdata.count > 3 ? rdata[3] : 0
        }
    }

    public func isValid(at now: Int64) -> Bool {
        (validFrom.map { $0 <= now } ?? true) && (validUntil.map { now < $0 } ?? true)
    }

    /// Whether the DNSKEY with this rdata, at this anchor's owner, is the
    /// key the anchor names. A DS of a digest type we cannot compute
    /// matches nothing.
    public func matches(dnskey rdata: [UInt8]) -> Bool {
        switch kind {
        case .dnskey(let anchor):
            return anchor == rdata
        case .ds(let keyTag, let algorithm, let digestType, let digest):
            guard keyTag == ZoneKey.keyTag(rdata), rdata.count > 3, algorithm == rdata[3] else { return false }
            return Self.digest(owner: owner, dnskey: rdata, type: digestType) == digest
        }
    }

    /// RFC 4034 §5.1.4: the digest of owner name and DNSKEY rdata; nil for
    /// a type other than SHA-256 (2) and SHA-384 (4).
    public static func digest(owner: DNSName, dnskey rdata: [UInt8], type: UInt8) -> [UInt8]? {
        let input = owner.lowercased().wire + rdata
        switch type {
        case 2: return Array(SHA256.hash(data: input))
        case 4: return Array(SHA384.hash(data: input))
        default: return nil
        }
    }

    /// Reads IANA's root-anchors.xml (RFC 9718), or DS and DNSKEY records
    /// in zone-file syntax with the zone parser (Debian's
    /// /usr/share/dns/root.key and root.ds are such files). Any other
    /// record, or none, is an error naming the file.
    public static func read(file: String) throws(ZoneError) -> [TrustAnchor] {
        let text = try ZoneText(path: file, maximumSize: 1 << 20)
        let bytes = try text.bytes()
        if bytes.drop(while: { isBlank($0) }).starts(with: RootAnchorsXML.byteOrderMark) || bytes.first(where: { !isBlank($0) }) == UInt8(ascii: "<") {
            return try RootAnchorsXML.anchors(bytes, file: file)
        }
        return try records(text, file: file)
    }

    private static func isBlank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    private static func records(_ text: ZoneText, file: String) throws(ZoneError) -> [TrustAnchor] {
        let parsed = try ZoneParser.parse(text, options: ZoneParser.Options(origin: .root, keepDNSSEC: true, defaultTTL: 0))
        var anchors: [TrustAnchor] = []
        for (index, entry) in parsed.records.entries.enumerated() {
            let record = parsed.records[index]
            switch record.type {
            case .ds:
                guard record.rdata.count > 4 else {
                    throw ZoneError(file: file, line: Int(entry.line), message: "DS record without a digest")
                }
                anchors.append(TrustAnchor(owner: record.owner, kind: .ds(
                    keyTag: record.rdata.bigEndianUInt16(at: 0), algorithm: record.rdata[2],
                    digestType: record.rdata[3], digest: Array(record.rdata[4...])), source: file))
            case .dnskey:
                guard record.rdata.count > 4 else {
                    throw ZoneError(file: file, line: Int(entry.line), message: "DNSKEY record without a key")
                }
                anchors.append(TrustAnchor(owner: record.owner, kind: .dnskey(rdata: record.rdata), source: file))
            default:
                throw ZoneError(file: file, line: Int(entry.line),
                                message: "a trust anchor is a DS or DNSKEY record, not \(record.type)")
            }
        }
        guard !anchors.isEmpty else { throw ZoneError(file: file, message: "no DS or DNSKEY record in the trust anchor file") }
        return anchors
    }
}

/// IANA's root trust anchors, built in: the text is `zones/root-anchors.xml`
/// byte for byte (a test compares them), as published at
/// https://data.iana.org/root-anchors/root-anchors.xml, read by the same
/// parser as `--trust-anchor`. Compiled in for the reason internic's key
/// is: the installed binary trusts exactly what was reviewed; RFC 5011's
/// state beside the data (`refresh`) and `--trust-anchor` add to it.
public enum RootAnchors {
    /// Every KeyDigest, with its window.
    public static let all: [TrustAnchor] = {
        do {
            return try RootAnchorsXML.anchors(Array(xml.utf8), file: "built-in")
        } catch {
            fatalError("the built-in root-anchors.xml does not read: \(error)")
        }
    }()

    /// The anchors whose `validFrom`/`validUntil` window holds `now`: KSK
    /// 19036 was retired in 2019 and must no longer open the chain, KSK-2024
    /// may not before its time.
    public static func valid(at now: Int64) -> [TrustAnchor] {
        all.filter { $0.isValid(at: now) }
    }

    /// Ends with a newline, as the file does.
    public static let xml = """
        <?xml version="1.0" encoding="UTF-8"?>
        <TrustAnchor id="E9724F53-1851-4F86-85E5-F1392102940B" source="http://data.iana.org/root-anchors/root-anchors.xml">
        <Zone>.</Zone>
        <KeyDigest id="Kjqmt7v" validFrom="2010-07-15T00:00:00+00:00" validUntil="2019-01-11T00:00:00+00:00">
        <KeyTag>19036</KeyTag>
        <Algorithm>8</Algorithm>
        <DigestType>2</DigestType>
        <Digest>49AAC11D7B6F6446702E54A1607371607A1A41855200FD2CE1CDDE32F24E8FB5</Digest>
        </KeyDigest>
        <KeyDigest id="Klajeyz" validFrom="2017-02-02T00:00:00+00:00">
        <KeyTag>20326</KeyTag>
        <Algorithm>8</Algorithm>
        <DigestType>2</DigestType>
        <Digest>E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D</Digest>
        </KeyDigest>
        <KeyDigest id="Kmyv6jo" validFrom="2024-07-18T00:00:00+00:00">
        <KeyTag>38696</KeyTag>
        <Algorithm>8</Algorithm>
        <DigestType>2</DigestType>
        <Digest>683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16</Digest>
        </KeyDigest>
        </TrustAnchor>

        """
}
