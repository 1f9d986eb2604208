import Foundation

/// A zone signed as an operator signs one: a KSK and a ZSK from Debian's
/// `ldns-keygen`, `ldns-signzone` with a ZONEMD record (`-z`), and the DS
/// of the KSK as the trust anchor (`K….ds`, the form of root.ds). Variants
/// of the signed text (a changed glue address, a dropped record) are
/// written beside it, so that each test case is one file.
public struct SignedZone {
    public let scratch: Scratch
    public let origin: String
    public let ksk: String
    public let zsk: String
    /// The signed master file.
    public let signed: String

    /// The DS of the KSK: what `--trust-anchor` and `ldns-verify-zone -k` take.
    public var anchor: String { scratch.file("\(ksk).ds") }
    /// The KSK's DNSKEY record, the other form of anchor (root.key's).
    public var anchorKey: String { scratch.file("\(ksk).key") }

    /// `algorithm` in ldns-keygen's names (RSASHA256, ECDSAP256SHA256,
    /// ED25519, ...); `zonemd` is ldns-signzone's `-z` argument, nil for none.
    public init(_ text: String, origin: String = ".", algorithm: String = "RSASHA256", zonemd: String? = "1:1",
                signing extra: [String] = []) throws {
        scratch = try Scratch()
        self.origin = origin
        ksk = try Self.keygen(["-a", algorithm, "-k", origin], in: scratch)
        zsk = try Self.keygen(["-a", algorithm, origin], in: scratch)
        signed = try Self.sign(text, name: "zone", origin: origin, keys: [zsk, ksk], zonemd: zonemd, extra: extra, in: scratch)
    }

    /// Another text signed with the same keys.
    public func sign(_ text: String, name: String, zonemd: String? = "1:1", extra: [String] = []) throws -> String {
        try Self.sign(text, name: name, origin: origin, keys: [zsk, ksk], zonemd: zonemd, extra: extra, in: scratch)
    }

    /// The signed text changed by `edit`, written as `name`.
    public func variant(_ name: String, _ edit: (String) -> String) throws -> String {
        let text = try String(contentsOfFile: signed, encoding: .utf8)
        let changed = edit(text)
        precondition(changed != text, "variant \(name) changes nothing")
        return scratch.write(name, Array(changed.utf8))
    }

    /// ldns-verify-zone's verdict on `file`: the reference verifier.
    public func ldnsVerifies(_ file: String, at time: String? = nil, anchor: String? = nil) throws -> Bool {
        let arguments = ["-k", anchor ?? self.anchor] + (time.map { ["-t", $0] } ?? []) + [file]
        return try run("/usr/bin/ldns-verify-zone", arguments).status == 0
    }

    static func keygen(_ arguments: [String], in scratch: Scratch) throws -> String {
        let result = try run("/usr/bin/ldns-keygen", arguments, directory: scratch.path)
        guard result.status == 0 else { throw SignedZoneError(message: "ldns-keygen: \(result.stderr)") }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func sign(_ text: String, name: String, origin: String, keys: [String], zonemd: String?, extra: [String],
                     in scratch: Scratch) throws -> String {
        let file = scratch.write(name, Array(text.utf8))
        let arguments = (zonemd.map { ["-z", $0] } ?? []) + extra + ["-o", origin, "-f", file + ".signed", file] + keys
        let result = try run("/usr/bin/ldns-signzone", arguments, directory: scratch.path)
        guard result.status == 0 else { throw SignedZoneError(message: "ldns-signzone: \(result.stderr)") }
        return file + ".signed"
    }

    /// A root zone in miniature: the apex, `tlds` delegations (each with an
    /// in-bailiwick name server and its glue, every other one with a DS),
    /// and a root server's address. `refresh` and `retry` are the SOA's
    /// timers (the root's 1800 and 900; a test of `serve --refresh` wants seconds).
    public static func root(serial: UInt32 = 2026112700, tlds: Int = 6, refresh: UInt32 = 1800, retry: UInt32 = 900) -> String {
        var lines = [
            ".\t86400\tIN\tSOA\ta.root-servers.net. nstld.verisign-grs.com. \(serial) \(refresh) \(retry) 604800 86400",
            ".\t518400\tIN\tNS\ta.root-servers.net.",
            "a.root-servers.net.\t518400\tIN\tA\t198.41.0.4",
        ]
        for i in 0..<tlds {
            let tld = "tld\(i)"
            lines.append("\(tld).\t172800\tIN\tNS\tns1.nic.\(tld).")
            lines.append("ns1.nic.\(tld).\t172800\tIN\tA\t192.0.2.\(i + 1)")
            if i % 2 == 0 {
                lines.append("\(tld).\t86400\tIN\tDS\t\(1000 + i) 8 2 " + String(repeating: String(format: "%02X", i + 16), count: 32))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

public struct SignedZoneError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
