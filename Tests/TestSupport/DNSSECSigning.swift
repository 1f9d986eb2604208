import Foundation

/// A zone signed by ldns (Debian's ldnsutils) with throwaway keys: a KSK
/// and a ZSK made by `ldns-keygen` (ECDSA P-256: small, quick), the zone
/// signed by `ldns-signzone` with the validity window the test asks for.
/// The KSK's DS is what a parent (or a resolver's trust anchor) holds.
public struct SignedTestZone {
    /// The signed zone file.
    public let path: String
    /// The KSK's DS record, one line of presentation format.
    public let ds: String
    /// The KSK's DNSKEY record, one line of presentation format (a trust anchor).
    public let dnskey: String

    /// Signs `text` (zone `origin`) with new keys made in `directory`; the
    /// signatures are valid from `inception` to `expiration`.
    public init(_ text: String, origin: String, in directory: Scratch, name: String,
                inception: Date = Date(timeIntervalSinceNow: -86400), expiration: Date = Date(timeIntervalSinceNow: 30 * 86400)) throws {
        let keys = directory.file("\(name)-keys")
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        func keygen(_ extra: [String]) throws -> String {
            let made = try run("/usr/bin/ldns-keygen", ["-a", "ECDSAP256SHA256"] + extra + [origin], directory: keys)
            guard made.status == 0, let base = made.output.split(separator: "\n").first else {
                throw TestFailure("ldns-keygen \(origin): \(made.stderr)")
            }
            return "\(keys)/\(base)"
        }
        let ksk = try keygen(["-k"])
        let zsk = try keygen([])
        let unsigned = directory.file("\(name).zone")
        try text.write(toFile: unsigned, atomically: true, encoding: .utf8)
        func stamp(_ date: Date) -> String {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMddHHmmss"
            return formatter.string(from: date)
        }
        let signed = try run("/usr/bin/ldns-signzone", ["-o", origin, "-i", stamp(inception), "-e", stamp(expiration),
                                                        "-f", unsigned + ".signed", unsigned, ksk, zsk])
        guard signed.status == 0 else { throw TestFailure("ldns-signzone \(origin): \(signed.stderr)\(signed.output)") }
        path = unsigned + ".signed"
        func firstLine(_ file: String) throws -> String {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            guard let line = text.split(separator: "\n").first(where: { !$0.hasPrefix(";") }) else { throw TestFailure("empty \(file)") }
            // ldns appends ";{id = …}" comments to keys.
            return String(line.split(separator: ";").first!).trimmingCharacters(in: .whitespaces)
        }
        ds = try firstLine(ksk + ".ds")
        dnskey = try firstLine(ksk + ".key")
    }
}
