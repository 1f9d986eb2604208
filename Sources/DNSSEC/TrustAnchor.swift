import DNSWire
import ZoneFile

/// A key the operator trusts for a zone's apex DNSKEY set: a DS digest of
/// it (RFC 4034 §5) or the DNSKEY itself (RFC 5011's form, `root.key`).
public struct TrustAnchor: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case ds(keyTag: UInt16, algorithm: UInt8, digestType: UInt8, digest: [UInt8])
        case dnskey(rdata: [UInt8])
    }

    /// Lower case.
    public var owner: DNSName
    public var kind: Kind

    public init(owner: DNSName, kind: Kind) {
        self.owner = owner.lowercased()
        self.kind = kind
    }

    public var keyTag: UInt16 {
        switch kind {
        case .ds(let keyTag, _, _, _): keyTag
        case .dnskey(let rdata): ZoneKey.keyTag(rdata)
        }
    }

    /// Reads DS and DNSKEY records in zone-file syntax with the zone parser
    /// (Debian's /usr/share/dns/root.key and root.ds are such files). Any
    /// other record, or none, is an error naming the file.
    public static func read(file: String) throws(ZoneError) -> [TrustAnchor] {
        let parsed = try ZoneParser.parse(try ZoneText(path: file, maximumSize: 1 << 20),
                                          options: ZoneParser.Options(origin: .root, keepDNSSEC: true, defaultTTL: 0))
        var anchors: [TrustAnchor] = []
        for (index, entry) in parsed.records.entries.enumerated() {
            let record = parsed.records[index]
            switch record.type {
            case .ds:
                guard record.rdata.count > 4 else {
                    throw ZoneError(file: file, line: Int(entry.line), message: "DS record without a digest")
                }
                anchors.append(TrustAnchor(owner: record.owner, kind: .ds(
                    keyTag: UInt16(record.rdata[0]) << 8 | UInt16(record.rdata[1]), algorithm: record.rdata[2],
                    digestType: record.rdata[3], digest: Array(record.rdata[4...]))))
            case .dnskey:
                guard record.rdata.count > 4 else {
                    throw ZoneError(file: file, line: Int(entry.line), message: "DNSKEY record without a key")
                }
                anchors.append(TrustAnchor(owner: record.owner, kind: .dnskey(rdata: record.rdata)))
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
/// https://data.iana.org/root-anchors/root-anchors.xml. Compiled in for the
/// reason internic's key is: the installed binary trusts exactly what was
/// reviewed, and `--trust-anchor` replaces it deliberately.
public enum RootAnchors {
    /// The anchors whose `validFrom`/`validUntil` window holds `now`: KSK
    /// 19036 was retired in 2019 and must no longer open the chain, KSK-2024
    /// may not before its time.
    public static func valid(at now: Int64) -> [TrustAnchor] {
        keyDigests(xml).filter { digest in
            (digest.validFrom.map { $0 <= now } ?? true) && (digest.validUntil.map { now < $0 } ?? true)
        }.map(\.anchor)
    }

    struct KeyDigest {
        var anchor: TrustAnchor
        var validFrom: Int64?
        var validUntil: Int64?
    }

    /// The `<KeyDigest>` elements of IANA's file. Its layout is fixed and the
    /// text compiled in, so a scan for the few elements and attributes it has
    /// is enough; an element that does not read is a build defect a test
    /// catches, not input to report.
    static func keyDigests(_ xml: String) -> [KeyDigest] {
        xml.split(separator: "<KeyDigest ").dropFirst().compactMap { element in
            func attribute(_ name: String) -> Int64? {
                guard let start = element.firstRange(of: "\(name)=\"") else { return nil }
                let rest = element[start.upperBound...]
                return rest.firstIndex(of: "\"").flatMap { UTCTime.parse(String(rest[..<$0])) }
            }
            func child(_ name: String) -> String? {
                guard let open = element.firstRange(of: "<\(name)>"), let close = element.firstRange(of: "</\(name)>") else { return nil }
                return String(element[open.upperBound..<close.lowerBound])
            }
            guard let tag = child("KeyTag").flatMap(UInt16.init), let algorithm = child("Algorithm").flatMap(UInt8.init),
                  let digestType = child("DigestType").flatMap(UInt8.init),
                  let digest = child("Digest").flatMap({ Codecs.hexDecode(Array($0.utf8)) }) else { return nil }
            return KeyDigest(anchor: TrustAnchor(owner: .root, kind: .ds(keyTag: tag, algorithm: algorithm, digestType: digestType,
                                                                         digest: digest)),
                             validFrom: attribute("validFrom"), validUntil: attribute("validUntil"))
        }
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
