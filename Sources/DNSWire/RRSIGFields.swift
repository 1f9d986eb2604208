/// An RRSIG's rdata (RFC 4034 §3.1) read into its fields: the one reading
/// for the DNSSEC verifier and for the answering index, which needs the
/// covered type and the expiration.
public struct RRSIGFields: Sendable {
    public var typeCovered: RRType
    public var algorithm: UInt8
    public var labels: UInt8
    public var originalTTL: UInt32
    /// Seconds since 1970, in serial number arithmetic (RFC 4034 §3.1.5).
    public var expiration: UInt32
    public var inception: UInt32
    public var keyTag: UInt16
    /// Where the signer's name lies in the rdata, its root label included
    /// (never compressed, RFC 4034 §3.1.7); the signature runs from its end
    /// to the rdata's.
    public var signer: Range<Int>

    public enum Defect: Error, Sendable, Equatable, CustomStringConvertible {
        case tooShort
        case signerRunsPastEnd

        public var description: String {
            switch self {
            case .tooShort: return "RRSIG rdata too short"
            case .signerRunsPastEnd: return "RRSIG signer name runs past the rdata"
            }
        }
    }

    /// Reads `rdata` (indices as the collection's own, so slices need no copy).
    public init<Bytes: RandomAccessCollection>(rdata: Bytes) throws(Defect) where Bytes.Element == UInt8, Bytes.Index == Int {
        let at = rdata.startIndex
        // 18 fixed bytes, a signer of at least the root label, a signature of at least one byte.
        guard rdata.count > 19 else { throw .tooShort }
        var signerEnd = at + 18
        while signerEnd < rdata.endIndex && rdata[signerEnd] != 0 { signerEnd += Int(rdata[signerEnd]) + 1 }
        guard signerEnd < rdata.endIndex else { throw .signerRunsPastEnd }
        typeCovered = RRType(rdata.bigEndianUInt16(at: at))
        algorithm = rdata[at + 2]
        labels = rdata[at + 3]
        originalTTL = rdata.bigEndianUInt32(at: at + 4)
        expiration = rdata.bigEndianUInt32(at: at + 8)
        inception = rdata.bigEndianUInt32(at: at + 12)
        keyTag = rdata.bigEndianUInt16(at: at + 16)
        signer = (at + 18)..<(signerEnd + 1)
    }
}
