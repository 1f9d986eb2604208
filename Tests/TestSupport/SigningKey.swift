import Foundation

/// A throwaway signing key made the way internic's is used: DSA-1024,
/// detached binary signatures over SHA-1. Lives in its own GnuPG home in a
/// scratch directory; the gpg-agent that signing needs is stopped after
/// every signature and again when the key goes away, so no daemon outlives
/// a test, pass or fail.
public final class SigningKey {
    public let scratch: Scratch
    public let home: String
    /// The armored public key, for --keyring.
    public let publicKey: String
    public let fingerprint: String

    /// `faketime` (gpg's --faked-system-time, e.g. "20200101T000000") and
    /// `expire` ("1d") make a key that has already expired.
    public init(name: String = "rootmirror test signer", faketime: String? = nil, expire: String = "0") throws {
        scratch = try Scratch()
        home = "\(scratch.path)/gnupg"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let parameters = scratch.write("key.params", Array("""
            Key-Type: DSA
            Key-Length: 1024
            Key-Usage: sign
            Name-Real: \(name)
            Name-Email: test@rootmirror.invalid
            Expire-Date: \(expire)
            %no-protection
            %commit

            """.utf8))
        let generated = try Self.gpg(home, (faketime.map { ["--faked-system-time", $0] } ?? []) + ["--gen-key", parameters])
        guard generated.status == 0 else { throw TestFailure("gpg --gen-key: \(generated.stderr)") }
        let listing = try Self.gpg(home, ["--with-colons", "--list-keys"]).output
        fingerprint = listing.split(separator: "\n").first { $0.hasPrefix("fpr:") }.map { String($0.split(separator: ":", omittingEmptySubsequences: false)[9]) } ?? ""
        publicKey = "\(scratch.path)/public.asc"
        try export()
    }

    deinit { stopAgent() }

    /// A detached binary signature over SHA-1, like internic's root.zone.gz.sig.
    @discardableResult
    public func sign(_ file: String, to signature: String? = nil, faketime: String? = nil) throws -> String {
        let output = signature ?? file + ".sig"
        defer { stopAgent() }
        let result = try Self.gpg(home, (faketime.map { ["--faked-system-time", $0] } ?? [])
            + ["--yes", "--digest-algo", "SHA1", "--detach-sign", "-o", output, file])
        guard result.status == 0 else { throw TestFailure("gpg --detach-sign: \(result.stderr)") }
        return output
    }

    /// Revokes the key with the revocation certificate gpg made with it,
    /// and re-exports the public key, now carrying the revocation.
    public func revoke() throws {
        let certificate = "\(home)/openpgp-revocs.d/\(fingerprint).rev"
        // gpg puts a ':' before the armor line so the file cannot be imported by accident.
        let text = try String(contentsOfFile: certificate, encoding: .utf8).replacingOccurrences(of: ":-----BEGIN", with: "-----BEGIN")
        let imported = try Self.gpg(home, ["--import", scratch.write("revocation.asc", Array(text.utf8))])
        guard imported.status == 0 else { throw TestFailure("gpg --import revocation: \(imported.stderr)") }
        try export()
    }

    private func export() throws {
        let exported = try Self.gpg(home, ["--armor", "--export", fingerprint])
        guard exported.status == 0, !exported.stdout.isEmpty else { throw TestFailure("gpg --export: \(exported.stderr)") }
        scratch.write("public.asc", exported.stdout)
    }

    private func stopAgent() {
        _ = try? run("/usr/bin/gpgconf", ["--homedir", home, "--kill", "all"])
    }

    public static func gpg(_ home: String, _ arguments: [String]) throws -> ProcessResult {
        try run("/usr/bin/gpg", ["--homedir", home, "--batch", "--no-tty"] + arguments)
    }
}
