
/// Times as operators write them on the command line and IANA writes them in
/// root-anchors.xml: RFC 3339 in UTC or with an offset
/// (`2023-05-11T12:00:00Z`, `2017-02-02T00:00:00+00:00`), to seconds since
/// the epoch (`Codecs.rfc3339Timestamp` writes them). Without Foundation's
/// formatters, whose time zone handling is more than this needs.
public enum UTCTime {
    /// The times a state file, an anchor file or a health document may
    /// name: from the epoch to the last second a four-digit year writes.
    /// Any two differ by far less than `Int64.max`, so no difference of a
    /// time read from a file and the clock can overflow.
    public static let representable: ClosedRange<Int64> = 0...253_402_300_799

    /// `seconds`, or nil when outside `representable`.
    public static func checked(_ seconds: Int64) -> Int64? {
        representable.contains(seconds) ? seconds : nil
    }

    public static func parse(_ text: String) -> Int64? {
        let s = Array(text.utf8)
        guard s.count >= 20, s[4] == UInt8(ascii: "-"), s[7] == UInt8(ascii: "-"), s[10] | 0x20 == UInt8(ascii: "t"),
              s[13] == UInt8(ascii: ":"), s[16] == UInt8(ascii: ":") else { return nil }
        func number(_ from: Int, _ count: Int) -> Int? {
            let digits = s[from..<(from + count)]
            guard digits.allSatisfy(isDigit) else { return nil }
            return digits.reduce(0) { $0 * 10 + Int($1 - 48) }
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
              let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var rest = 19
        // Fractions of a second mean nothing to a signature's validity window.
        if rest < s.count, s[rest] == UInt8(ascii: ".") {
            rest += 1
            while rest < s.count, isDigit(s[rest]) { rest += 1 }
        }
        var offset = 0
        guard rest < s.count else { return nil }
        if s[rest] | 0x20 == UInt8(ascii: "z") {
            guard rest + 1 == s.count else { return nil }
        } else {
            guard s[rest] == UInt8(ascii: "+") || s[rest] == UInt8(ascii: "-"), rest + 6 == s.count,
                  s[rest + 3] == UInt8(ascii: ":"), let h = number(rest + 1, 2), let m = number(rest + 4, 2) else { return nil }
            offset = (h * 3600 + m * 60) * (s[rest] == UInt8(ascii: "-") ? -1 : 1)
        }
        let local = Codecs.epochSeconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        return Int64(local - offset)
    }
}
