/// Network byte order reads from bytes already known to be long enough:
/// the one spelling of what RDATA and header parsing do everywhere.
extension RandomAccessCollection where Element == UInt8, Index == Int {
    @inlinable
    public func bigEndianUInt16(at i: Int) -> UInt16 {
        UInt16(self[i]) << 8 | UInt16(self[i + 1])
    }

    @inlinable
    public func bigEndianUInt32(at i: Int) -> UInt32 {
        UInt32(self[i]) << 24 | UInt32(self[i + 1]) << 16 | UInt32(self[i + 2]) << 8 | UInt32(self[i + 3])
    }

    @inlinable
    public func bigEndianUInt64(at i: Int) -> UInt64 {
        UInt64(bigEndianUInt32(at: i)) << 32 | UInt64(bigEndianUInt32(at: i + 4))
    }
}
