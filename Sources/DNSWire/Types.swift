/// A resource-record type code. A struct rather than an enum so that every
/// one of the 65,536 codes is representable (RFC 3597 unknown types).
public struct RRType: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = RRType(1)
    public static let ns = RRType(2)
    public static let cname = RRType(5)
    public static let soa = RRType(6)
    public static let ptr = RRType(12)
    public static let hinfo = RRType(13)
    public static let mx = RRType(15)
    public static let txt = RRType(16)
    public static let aaaa = RRType(28)
    public static let naptr = RRType(35)
    public static let opt = RRType(41)
    public static let ds = RRType(43)
    public static let rrsig = RRType(46)
    public static let nsec = RRType(47)
    public static let dnskey = RRType(48)
    public static let nsec3 = RRType(50)
    public static let nsec3param = RRType(51)
    public static let cds = RRType(59)
    public static let cdnskey = RRType(60)
    public static let zonemd = RRType(63)
    public static let tsig = RRType(250)
    public static let ixfr = RRType(251)
    public static let axfr = RRType(252)
    public static let any = RRType(255)

    private static let mnemonics: [(String, RRType)] = [
        ("A", .a), ("NS", .ns), ("CNAME", .cname), ("SOA", .soa), ("PTR", .ptr), ("HINFO", .hinfo),
        ("MX", .mx), ("TXT", .txt), ("AAAA", .aaaa), ("NAPTR", .naptr), ("OPT", .opt), ("DS", .ds), ("RRSIG", .rrsig),
        ("NSEC", .nsec), ("DNSKEY", .dnskey), ("NSEC3", .nsec3), ("NSEC3PARAM", .nsec3param),
        ("CDS", .cds), ("CDNSKEY", .cdnskey), ("ZONEMD", .zonemd), ("IXFR", .ixfr), ("AXFR", .axfr),
        ("ANY", .any),
    ]

    /// Parses a mnemonic (case-insensitive) or the RFC 3597 form `TYPEnnn`.
    public init?(mnemonic: String) {
        let upper = mnemonic.uppercased()
        if let known = Self.mnemonics.first(where: { $0.0 == upper }) {
            self = known.1
        } else if upper.hasPrefix("TYPE"), let code = UInt16(upper.dropFirst(4)) {
            self.init(code)
        } else {
            return nil
        }
    }

    public var description: String {
        Self.mnemonics.first(where: { $0.1 == self })?.0 ?? "TYPE\(rawValue)"
    }

    /// Record types that exist only for DNSSEC. dnscache cannot use them and
    /// they are four fifths of the signed root zone, so `compile` strips them.
    public var isDNSSEC: Bool {
        switch self {
        case .rrsig, .dnskey, .ds, .nsec, .nsec3, .nsec3param, .cds, .cdnskey, .zonemd: return true
        default: return false
        }
    }

    public static func < (lhs: RRType, rhs: RRType) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Class codes (RFC 1035 §3.2.4); only IN and CH matter to a root mirror.
public struct RRClass: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let `in` = RRClass(1)
    public static let cs = RRClass(2)
    public static let ch = RRClass(3)
    public static let hs = RRClass(4)
    public static let none = RRClass(254)
    public static let any = RRClass(255)

    public init?(mnemonic: String) {
        switch mnemonic.uppercased() {
        case "IN": self = .in
        case "CS": self = .cs
        case "CH": self = .ch
        case "HS": self = .hs
        default:
            let upper = mnemonic.uppercased()
            guard upper.hasPrefix("CLASS"), let code = UInt16(upper.dropFirst(5)) else { return nil }
            self.init(code)
        }
    }

    public var description: String {
        switch self {
        case .in: return "IN"
        case .cs: return "CS"
        case .ch: return "CH"
        case .hs: return "HS"
        default: return "CLASS\(rawValue)"
        }
    }
}

/// Response codes (RFC 1035 §4.1.1, RFC 6891 for the extended BADVERS), and
/// the TSIG errors (RFC 8945 §3), which share their number space.
public struct RCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let noError = RCode(rawValue: 0)
    public static let formErr = RCode(rawValue: 1)
    public static let servFail = RCode(rawValue: 2)
    public static let nxDomain = RCode(rawValue: 3)
    public static let notImp = RCode(rawValue: 4)
    public static let refused = RCode(rawValue: 5)
    public static let notAuth = RCode(rawValue: 9)
    public static let badVers = RCode(rawValue: 16)
    /// In a TSIG record's error field 16 means BADSIG, not BADVERS.
    public static let badSig = RCode(rawValue: 16)
    public static let badKey = RCode(rawValue: 17)
    public static let badTime = RCode(rawValue: 18)
    public static let badTrunc = RCode(rawValue: 22)

    public var description: String {
        switch rawValue {
        case 0: return "NOERROR"
        case 1: return "FORMERR"
        case 2: return "SERVFAIL"
        case 3: return "NXDOMAIN"
        case 4: return "NOTIMP"
        case 5: return "REFUSED"
        case 9: return "NOTAUTH"
        case 16: return "BADVERS"
        case 17: return "BADKEY"
        case 18: return "BADTIME"
        case 22: return "BADTRUNC"
        default: return "RCODE\(rawValue)"
        }
    }
}

/// One resource record with its rdata in uncompressed wire format.
public struct ResourceRecord: Hashable, Sendable {
    public var owner: DNSName
    public var type: RRType
    public var rclass: RRClass
    public var ttl: UInt32
    public var rdata: [UInt8]

    public init(owner: DNSName, type: RRType, rclass: RRClass = .in, ttl: UInt32, rdata: [UInt8]) {
        self.owner = owner
        self.type = type
        self.rclass = rclass
        self.ttl = ttl
        self.rdata = rdata
    }
}
