import ArgumentParser
import DNSWire
import TSIG

/// `--tsig-key FILE` and `--transfer-key NAME`: one key for a fleet's
/// transfers and NOTIFY (RFC 8945), on `serve` (what it sends and accepts,
/// and what its `--refresh` child asks its primary with) and on `refresh`.
struct TSIGOptions: ParsableArguments {
    @Option(name: .customLong("tsig-key"),
            help: ArgumentHelp("Read TSIG keys from this file, as tsig-keygen writes them (mode 600; repeatable).", valueName: "file"))
    var files: [String] = []

    @Option(help: ArgumentHelp("Sign transfers and NOTIFY with this key from --tsig-key, and require it of the other side.",
                               valueName: "name"))
    var transferKey: String?

    /// The key `--transfer-key` names; nil without one. A file that does
    /// not read, or a name it does not hold, is one line and exit 64.
    func key() throws -> TSIGKey? {
        guard let transferKey else {
            if !files.isEmpty { throw fail("--tsig-key needs --transfer-key NAME: which of its keys to use", exitCode: 64) }
            return nil
        }
        guard !files.isEmpty else { throw fail("--transfer-key needs --tsig-key FILE holding the key", exitCode: 64) }
        let keyring: TSIGKeyring
        do {
            keyring = try TSIGKeyring(readingFiles: files)
        } catch {
            throw fail(error, exitCode: 64)
        }
        guard let name = try? DNSName(text: transferKey), let key = keyring[name] else {
            throw fail("--transfer-key \(transferKey): no such key in \(files.joined(separator: ", "))", exitCode: 64)
        }
        return key
    }

    /// These options as `refresh` reads them back.
    var arguments: [String] {
        files.flatMap { ["--tsig-key", $0] } + (transferKey.map { ["--transfer-key", $0] } ?? [])
    }
}
