/// EDNS options (RFC 6891 §6.1.2) that rootmirror reads or writes.
public enum EDNSOption {
    /// RFC 7314: in a query, "how long may I still serve this zone?"; in
    /// the reply, the seconds left of the responder's own SOA EXPIRE, so
    /// that a chain of secondaries never serves the data longer than its
    /// origin allows.
    public static let expire: UInt16 = 9

    /// The data of the first option `code` in OPT rdata, or nil.
    public static func value(_ code: UInt16, in options: [UInt8]) -> ArraySlice<UInt8>? {
        var i = 0
        while i + 4 <= options.count {
            let length = Int(options.bigEndianUInt16(at: i + 2))
            guard i + 4 + length <= options.count else { return nil }
            if options.bigEndianUInt16(at: i) == code { return options[(i + 4)..<(i + 4 + length)] }
            i += 4 + length
        }
        return nil
    }

    /// An EXPIRE option carrying `seconds`.
    public static func expire(seconds: UInt32) -> [UInt8] {
        [0, UInt8(expire), 0, 4, UInt8(seconds >> 24), UInt8(seconds >> 16 & 0xFF), UInt8(seconds >> 8 & 0xFF), UInt8(seconds & 0xFF)]
    }

    /// Appends `option` to the OPT record that ends the reply of `length`
    /// bytes in `buffer`, as every reply of ours to an EDNS query does;
    /// the new length, or nil (no OPT last, or no room) with the reply
    /// left as it was.
    public static func append(_ option: [UInt8], toReplyOf length: Int, in buffer: UnsafeMutableRawBufferPointer) -> Int? {
        let reply = UnsafeRawBufferPointer(buffer)
        guard length >= MessageHeader.size, length + option.count <= buffer.count,
              reply.bigEndianUInt16(at: 10) > 0, let last = lastRecordStart(in: UnsafeRawBufferPointer(rebasing: reply[0..<length])),
              // OPT's owner is the root: one zero byte, then TYPE 41.
              reply[last] == 0, reply.bigEndianUInt16(at: last + 1) == RRType.opt.rawValue else { return nil }
        let rdlength = Int(reply.bigEndianUInt16(at: last + 9)) + option.count
        guard rdlength <= 0xFFFF else { return nil }
        buffer[last + 9] = UInt8(rdlength >> 8)
        buffer[last + 10] = UInt8(rdlength & 0xFF)
        for (i, byte) in option.enumerated() { buffer[length + i] = byte }
        return length + option.count
    }

    /// The seconds an EXPIRE option in the OPT record that ends `message`
    /// carries, or nil when there is none.
    public static func expireSeconds(inReply message: [UInt8]) -> UInt32? {
        message.withUnsafeBytes { p -> UInt32? in
            guard p.count >= MessageHeader.size, let last = lastRecordStart(in: p), p[last] == 0,
                  p.bigEndianUInt16(at: last + 1) == RRType.opt.rawValue else { return nil }
            let options = Array(p[(last + 11)...])
            guard let value = value(expire, in: options), value.count == 4 else { return nil }
            return value.bigEndianUInt32(at: value.startIndex)
        }
    }

    /// An EDNS record for a query that asks for EXPIRE.
    public static var askingExpire: EDNS { EDNS(udpPayloadSize: 1232, options: [0, UInt8(expire), 0, 0]) }

    /// Where the message's last resource record begins, or nil when it does not read.
    static func lastRecordStart(in p: UnsafeRawBufferPointer) -> Int? {
        var last: Int?
        return QueryParser.forEachRecord(in: p) { _, start, _ in last = start } ? last : nil
    }
}
