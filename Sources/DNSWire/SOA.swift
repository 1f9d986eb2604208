/// The fields of an SOA rdata (RFC 1035 §3.3.13).
public struct SOAFields: Hashable, Sendable {
    public var mname: DNSName
    public var rname: DNSName
    public var serial: UInt32
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    public var minimum: UInt32

    public init?(rdata: [UInt8]) {
        var r = RDataCursor(rdata)
        guard let m = r.name(), let rn = r.name(), let serial = r.u32(), let refresh = r.u32(),
              let retry = r.u32(), let expire = r.u32(), let minimum = r.u32(), r.atEnd else { return nil }
        (mname, rname, self.serial, self.refresh, self.retry, self.expire, self.minimum) =
            (m, rn, serial, refresh, retry, expire, minimum)
    }
}

/// Serial number arithmetic (RFC 1982) for 32-bit zone serials: `a` is newer
/// than `b` when it is ahead by less than half the number space.
public enum SerialNumber {
    public static func isNewer(_ a: UInt32, than b: UInt32) -> Bool {
        a != b && (a &- b) < 0x8000_0000
    }
}
