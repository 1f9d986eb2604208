/// The text encodings that DNS presentation format uses inside rdata, both
/// directions, on bytes: the zone parser feeds them token slices without
/// making Strings, and the printer uses them for `query` output.
public enum Codecs {
    // MARK: Base64 (RFC 4648 §4), for DNSKEY and RRSIG

    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let base64Values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in base64Alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    public static func base64Encode(_ input: some Collection<UInt8>) -> String {
        let data = Array(input)
        var out: [UInt8] = []
        out.reserveCapacity((data.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= data.count {
            let v = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2])
            for shift in stride(from: 18, through: 0, by: -6) { out.append(base64Alphabet[Int((v >> UInt32(shift)) & 63)]) }
            i += 3
        }
        let rest = data.count - i
        if rest > 0 {
            let v = UInt32(data[i]) << 16 | (rest == 2 ? UInt32(data[i + 1]) << 8 : 0)
            out.append(base64Alphabet[Int((v >> 18) & 63)])
            out.append(base64Alphabet[Int((v >> 12) & 63)])
            out.append(rest == 2 ? base64Alphabet[Int((v >> 6) & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base64 that may be split over several tokens: the caller
    /// appends each token's bytes; padding is accepted only at the end.
    /// An array, not any collection: the signed root's 5,000 keys and
    /// signatures go through here, and a generic loop across modules is not
    /// specialised (it was a tenth of `verify`'s time).
    public static func base64Decode(_ text: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        var padding = 0
        let values = base64Values
        for c in text {
            if c == UInt8(ascii: "=") { padding += 1; continue }
            guard padding == 0 else { return nil }
            let v = values[Int(c)]
            guard v != 0xFF else { return nil }
            acc = acc << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((acc >> UInt32(bits)) & 0xFF))
            }
        }
        // Four characters make three bytes; a final group of two or three
        // characters leaves 4 or 2 spare bits and takes "==" or "=".
        switch (bits, padding) {
        case (0, 0), (4, 2), (2, 1), (4, 0), (2, 0): return out
        default: return nil
        }
    }

    // MARK: Hex, for DS digests, ZONEMD, NSEC3 salt and RFC 3597 rdata

    public static func hexEncode(_ data: some Collection<UInt8>, uppercase: Bool = true) -> String {
        let digits = Array((uppercase ? "0123456789ABCDEF" : "0123456789abcdef").utf8)
        var out: [UInt8] = []
        out.reserveCapacity(data.count * 2)
        for b in data {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// An array, not any collection, for the reason base64Decode gives: a
    /// transfer's RFC 3597 rdata, all of it hex, goes through here (generic,
    /// it was a third of `refresh --url axfr://`'s time).
    public static func hexDecode(_ text: [UInt8]) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var high: UInt8? = nil
        for c in text {
            guard let v = hexValue(c) else { return nil }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        return out
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 65...70: return c - 55
        case 97...102: return c - 87
        default: return nil
        }
    }

    // MARK: Base32hex (RFC 4648 §7, no padding), for NSEC3 next hashed owner

    private static let base32Alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUV".utf8)

    public static func base32HexEncode(_ data: [UInt8]) -> String {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for b in data {
            acc = acc << 8 | UInt32(b)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(base32Alphabet[Int((acc >> UInt32(bits)) & 31)])
            }
        }
        if bits > 0 { out.append(base32Alphabet[Int((acc << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }

    public static func base32HexDecode(_ text: some Collection<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        for c in text {
            let v: UInt8
            switch c {
            case 48...57: v = c - 48
            case 65...86: v = c - 55
            case 97...118: v = c - 87
            default: return nil
            }
            acc = acc << 5 | UInt32(v)
            bits += 5
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((acc >> UInt32(bits)) & 0xFF))
            }
        }
        return out
    }

    // MARK: RRSIG time stamps (RFC 4034 §3.2): YYYYMMDDHHmmSS in UTC

    /// Seconds since the epoch for a civil UTC date, without Foundation
    /// (days-from-civil, H. Hinnant's algorithm).
    public static func epochSeconds(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return days * 86400 + hour * 3600 + minute * 60 + second
    }

    public static func civilTimestamp(epochSeconds t: Int) -> String {
        let days = t >= 0 ? t / 86400 : (t - 86399) / 86400
        let secs = t - days * 86400
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return pad(year, 4) + pad(month, 2) + pad(day, 2) + pad(secs / 3600, 2) + pad(secs / 60 % 60, 2) + pad(secs % 60, 2)
    }

    /// `2023-05-24T05:00:00Z`: RFC 3339 in UTC, for /health and the proofs' reports.
    public static func rfc3339Timestamp(epochSeconds t: Int) -> String {
        let c = Array(civilTimestamp(epochSeconds: t))
        return "\(String(c[0..<4]))-\(String(c[4..<6]))-\(String(c[6..<8]))T\(String(c[8..<10])):\(String(c[10..<12])):\(String(c[12..<14]))Z"
    }

    // MARK: Type bitmaps (RFC 4034 §4.1.2), for NSEC and NSEC3

    public static func typeBitmap(_ types: [RRType]) -> [UInt8] {
        var out: [UInt8] = []
        let sorted = Set(types).sorted()
        var index = 0
        while index < sorted.count {
            let window = UInt8(sorted[index].rawValue >> 8)
            var bitmap = [UInt8](repeating: 0, count: 32)
            var used = 0
            while index < sorted.count && UInt8(sorted[index].rawValue >> 8) == window {
                let low = Int(sorted[index].rawValue & 0xFF)
                bitmap[low / 8] |= 0x80 >> UInt8(low % 8)
                used = low / 8 + 1
                index += 1
            }
            out.append(window)
            out.append(UInt8(used))
            out.append(contentsOf: bitmap[0..<used])
        }
        return out
    }

    public static func types(inBitmap bitmap: ArraySlice<UInt8>) -> [RRType]? {
        var types: [RRType] = []
        var i = bitmap.startIndex
        while i < bitmap.endIndex {
            guard i + 2 <= bitmap.endIndex else { return nil }
            let window = UInt16(bitmap[i])
            let length = Int(bitmap[i + 1])
            guard length >= 1, length <= 32, i + 2 + length <= bitmap.endIndex else { return nil }
            for byte in 0..<length {
                let b = bitmap[i + 2 + byte]
                for bit in 0..<8 where b & (0x80 >> UInt8(bit)) != 0 {
                    types.append(RRType(window << 8 | UInt16(byte * 8 + bit)))
                }
            }
            i += 2 + length
        }
        return types
    }
}
