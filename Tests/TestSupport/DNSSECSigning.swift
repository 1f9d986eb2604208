import Foundation

/// A zone's throwaway DNSSEC keys made by ldns (Debian's ldnsutils): a KSK
/// and a ZSK from `ldns-keygen` (ECDSA P-256: small, quick to make), used by
/// `ldns-signzone` with the validity window a test asks for. The KSK's DS is
/// what a parent holds, or a resolver's trust anchor for a root.
public struct DNSSECKeys {
    public let origin: String
    /// The KSK's DS record, one line of presentation format, no comment.
    public let ds: String
    private let ksk: String
    private let zsk: String

    /// Makes the keys in a directory `name`-keys of `directory`.
    public init(origin: String, in directory: Scratch, name: String) throws {
        let keys = directory.file("\(name)-keys")
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        func keygen(_ extra: [String]) throws -> String {
            let made = try run("/usr/bin/ldns-keygen", ["-a", "ECDSAP256SHA256"] + extra + [origin], directory: keys)
            guard made.status == 0, let base = made.output.split(separator: "\n").first else {
                throw TestFailure("ldns-keygen \(origin): \(made.stderr)")
            }
            return "\(keys)/\(base)"
        }
        self.origin = origin
        ksk = try keygen(["-k"])
        zsk = try keygen([])
        // ldns appends a ";{id = …}" comment.
        let text = try String(contentsOfFile: ksk + ".ds", encoding: .utf8)
        ds = String(text.split(separator: ";").first!).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Signs the zone `text` with these keys into `name`.zone.signed in
    /// `directory`, the signatures valid from `inception` to `expiration`;
    /// returns the signed file's path.
    public func sign(_ text: String, in directory: Scratch, name: String,
                     inception: Date = Date(timeIntervalSinceNow: -86400),
                     expiration: Date = Date(timeIntervalSinceNow: 30 * 86400)) throws -> String {
        let unsigned = directory.file("\(name).zone")
        try text.write(toFile: unsigned, atomically: true, encoding: .utf8)
        func stamp(_ date: Date) -> String {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMddHHmmss"
            return formatter.string(from: date)
        }
        let signed = unsigned + ".signed"
        let result = try run("/usr/bin/ldns-signzone", ["-o", origin, "-i", stamp(inception), "-e", stamp(expiration),
                                                        "-f", signed, unsigned, ksk, zsk])
        guard result.status == 0 else { throw TestFailure("ldns-signzone \(origin): \(result.stderr)\(result.output)") }
        return signed
    }
}
