import Addressing
import CDBStore
import CGPGME
import FoundationEssentials
import Synchronization
import ZoneFile
#if canImport(Glibc)
import Glibc
#endif

/// Checks a detached OpenPGP signature with gpgme against a pinned key, in
/// a private GnuPG home made for the run: the user's keyring, trust
/// settings and agent are never consulted, so what is trusted is exactly
/// the key given here and nothing a user or another program imported.
///
/// "Good" means: gpg reports a good signature (GOODSIG/VALIDSIG), made by a
/// pinned fingerprint (or a subkey of one), and the key is neither revoked
/// nor expired, nor the signature expired. internic signs with DSA-1024 over
/// SHA-1, which GnuPG 2.2 still verifies; nothing here forbids it.
public struct SignatureVerifier: Sendable {
    /// One or more OpenPGP public keys, ASCII-armored or binary.
    public var keyring: [UInt8]
    /// Upper-case hex v4 fingerprints a signature must come from; nil
    /// trusts every key in `keyring` (the operator's own file is the pin).
    public var pinnedFingerprints: Set<String>?
    /// Where the keyring came from, for error messages.
    public var keyringName: String

    public init(keyring: [UInt8], pinnedFingerprints: Set<String>?, keyringName: String) {
        self.keyring = keyring
        self.pinnedFingerprints = pinnedFingerprints.map { Set($0.map(Self.normalized)) }
        self.keyringName = keyringName
    }

    /// The key(s) in `file` (a private mirror's own), pinned to
    /// `fingerprint` if given, else to whatever the file holds.
    public init(keyringFile file: String, fingerprint: String?) throws(RefreshError) {
        let bytes: [UInt8]?
        do {
            bytes = try readSmallFile(file, limit: 1 << 20)
        } catch {
            throw RefreshError(.signature, "\(file): cannot read keyring: \(error.message)")
        }
        guard let bytes else { throw RefreshError(.signature, "\(file): cannot read keyring: no such file") }
        self.init(keyring: bytes, pinnedFingerprints: fingerprint.map { [$0] }, keyringName: file)
    }

    /// Starts gpgme's one-time check of the gpg engine (a `gpg --version`
    /// run) on a thread of its own, so that it overlaps the download, or the
    /// inflating and parsing, instead of coming first in the verification,
    /// which waits for it. Later calls do nothing.
    public static func startEngineCheck() {
        _ = engineCheckStarted
    }

    /// Waits for the check `startEngineCheck` began, so that no run returns
    /// (and exits) while gpgme is inside it.
    public static func finishEngineCheck() {
        _ = try? GPGME.initialize()
    }

    private static let engineCheckStarted: Bool = {
        OSThread.detach { _ = try? GPGME.initialize() }
        return true
    }()

    /// internic's key, compiled in, pinned by its fingerprint.
    public static let internic = SignatureVerifier(
        keyring: Array(InternicKey.armored.utf8), pinnedFingerprints: [InternicKey.fingerprint],
        keyringName: "the built-in internic key")

    /// "f0cb 1a32 ..." → "F0CB1A32...", so a pin may be pasted from gpg output.
    public static func normalized(_ fingerprint: String) -> String {
        String(fingerprint.uppercased().filter { !$0.isWhitespace })
    }

    /// The key that made the good signature.
    public struct Signer: Sendable, Equatable {
        /// The signing key's fingerprint: the pinned primary key's when a
        /// pin was matched (also through one of its subkeys).
        public var fingerprint: String
        /// Seconds since the epoch, as the signature claims.
        public var created: Int64
    }

    /// Verifies `signature` (a file holding a detached signature) over the
    /// bytes of `data`, with the keyring written into `home` first. `home`
    /// must be an empty directory private to this run; it is left holding
    /// gpg's files for the caller to remove. Messages name the signature
    /// `label` (its URL, say) when given, else its path.
    public func verify(signature: String, data: String, home: String, label: String? = nil) throws(RefreshError) -> Signer {
        try GPGME.initialize()
        let keyringFile = "pinned.gpg"
        try writePrivate("\(home)/\(keyringFile)", OpenPGPKeyring.binary(keyring, name: keyringName))
        try writeConfiguration(home: home, keyring: keyringFile)
        return try GPGME.withHome(home) { (context) throws(RefreshError) in
            try check(context, signature: signature, data: data, label: label ?? signature)
        }
    }

    /// The fingerprints in `keyring`, imported and read back by gpg itself
    /// through gpgme, in the private `home`: for tests and diagnostics.
    public func fingerprints(home: String) throws(RefreshError) -> [String] {
        try GPGME.initialize()
        try writeConfiguration(home: home, keyring: nil)
        return try GPGME.withHome(home) { (context) throws(RefreshError) in try importKeys(context) }
    }

    /// gpg.conf for the private home: never start gpg-agent or dirmngr (a
    /// public-key verify needs neither, and a daemon would outlive the run),
    /// never fetch keys from the network, take validity from the pin rather
    /// than the web of trust (no trustdb to build on every run), and read
    /// keys from `keyring` only.
    private func writeConfiguration(home: String, keyring: String?) throws(RefreshError) {
        var text = "no-autostart\nno-auto-key-retrieve\ntrust-model always\n"
        if let keyring { text += "no-default-keyring\nkeyring \(keyring)\n" }
        try writePrivate("\(home)/gpg.conf", Array(text.utf8))
    }

    private func writePrivate(_ path: String, _ bytes: [UInt8]) throws(RefreshError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RefreshError(.local, "\(path): cannot create: \(errnoText())") }
        defer { close(fd) }
        guard write(fd, bytes, bytes.count) == bytes.count else { throw RefreshError(.local, "\(path): write failed: \(errnoText())") }
    }

    private func importKeys(_ context: GPGME.Context) throws(RefreshError) -> [String] {
        let data = try GPGME.Data(bytes: keyring)
        let err = gpgme_op_import(context.handle, data.handle)
        guard err == 0 else { throw RefreshError(.signature, "\(keyringName): cannot import: \(GPGME.text(err))") }
        var fingerprints: [String] = []
        var entry = gpgme_op_import_result(context.handle)?.pointee.imports
        while let item = entry {
            if item.pointee.result == 0, let fpr = item.pointee.fpr {
                let fingerprint = String(cString: fpr)
                if !fingerprints.contains(fingerprint) { fingerprints.append(fingerprint) }
            }
            entry = item.pointee.next
        }
        guard !fingerprints.isEmpty else {
            throw RefreshError(.signature, "\(keyringName): holds no usable OpenPGP public key")
        }
        if let pinned = pinnedFingerprints, pinned.isDisjoint(with: fingerprints) {
            throw RefreshError(.signature, "\(keyringName): holds \(fingerprints.joined(separator: ", ")), "
                + "not the pinned key \(pinned.sorted().joined(separator: ", "))")
        }
        return fingerprints
    }

    private func check(_ context: GPGME.Context, signature: String, data: String, label: String) throws(RefreshError) -> Signer {
        let signatureFile = try GPGME.Data(file: signature)
        let signedFile = try GPGME.Data(file: data)
        let err = gpgme_op_verify(context.handle, signatureFile.handle, signedFile.handle, nil)
        let name = data.split(separator: "/").last.map(String.init) ?? data
        guard err == 0 else {
            throw RefreshError(.signature, "\(label): not a usable signature: \(GPGME.text(err))")
        }
        // Without a pin, any key in the keyring will do: gpg knows no others.
        let pins = pinnedFingerprints.map { "the pinned key \($0.sorted().joined(separator: ", "))" } ?? "a key in \(keyringName)"
        var firstProblem: String?
        var entry = gpgme_op_verify_result(context.handle)?.pointee.signatures
        while let sig = entry {
            entry = sig.pointee.next
            let fpr = sig.pointee.fpr.map { String(cString: $0) } ?? "an unknown key"
            let status = gpgme_err_code(sig.pointee.status)
            let summary = sig.pointee.summary.rawValue
            let problem: String?
            if summary & GPGME_SIGSUM_KEY_REVOKED.rawValue != 0 || status == GPG_ERR_CERT_REVOKED {
                problem = "the signing key \(fpr) is revoked"
            } else if summary & GPGME_SIGSUM_KEY_EXPIRED.rawValue != 0 || status == GPG_ERR_KEY_EXPIRED {
                problem = "the signing key \(fpr) has expired"
            } else if summary & GPGME_SIGSUM_SIG_EXPIRED.rawValue != 0 || status == GPG_ERR_SIG_EXPIRED {
                problem = "the signature has expired"
            } else if status == GPG_ERR_NO_PUBKEY || summary & GPGME_SIGSUM_KEY_MISSING.rawValue != 0 {
                problem = "signed by key \(fpr), not by \(pins)"
            } else if status == GPG_ERR_BAD_SIGNATURE || summary & GPGME_SIGSUM_RED.rawValue != 0 {
                problem = "BAD signature: \(name) or its signature was altered"
            } else if status != GPG_ERR_NO_ERROR {
                problem = "signature not good: \(GPGME.text(sig.pointee.status))"
            } else if sig.pointee.wrong_key_usage != 0 {
                problem = "key \(fpr) is not allowed to sign"
            } else if let primary = primaryFingerprint(context, fpr), pinnedFingerprints?.contains(primary) ?? true {
                return Signer(fingerprint: primary, created: Int64(sig.pointee.timestamp))
            } else {
                problem = "signed by key \(fpr), not by \(pins)"
            }
            firstProblem = firstProblem ?? problem
        }
        throw RefreshError(.signature, "\(label): \(firstProblem ?? "no signature found")")
    }

    /// The primary key of the (sub)key `fpr`, as far as the pin needs it.
    /// The common case, a signature by the pinned primary key itself (or no
    /// pin), needs no key listing, which would be another gpg run.
    private func primaryFingerprint(_ context: GPGME.Context, _ fpr: String) -> String? {
        guard let pinned = pinnedFingerprints, !pinned.contains(fpr) else { return fpr }
        var key: gpgme_key_t?
        guard gpgme_get_key(context.handle, fpr, &key, 0) == 0, let key else { return nil }
        defer { gpgme_key_unref(key) }
        return key.pointee.fpr.map { String(cString: $0) }
    }
}

/// Thin ownership wrappers over gpgme's handles, so every path releases them.
enum GPGME {
    /// gpgme must be initialised once per process, before any context. It
    /// is told where gpg is and not to ask gpgconf: otherwise every run
    /// spends five extra process spawns (gpgconf twice, gpgsm and gpgconf
    /// version probes) before verifying anything.
    private static let initialization: Result<Void, RefreshError> = {
        guard let gpg = findExecutable("gpg") else {
            return .failure(RefreshError(.signature, "gpg not found in PATH (install Debian's gnupg)"))
        }
        _ = gpgme_set_global_flag("disable-gpgconf", "1")
        _ = gpgme_set_global_flag("gpg-name", gpg)
        _ = gpgme_check_version_internal(nil, MemoryLayout<_gpgme_signature>.offset(of: \_gpgme_signature.validity)!)
        let err = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP)
        guard err == 0 else {
            return .failure(RefreshError(.signature, "gpgme cannot use \(gpg): \(text(err))"))
        }
        return .success(())
    }()

    static func initialize() throws(RefreshError) {
        try initialization.get()
    }

    static func text(_ err: gpgme_error_t) -> String {
        String(cString: gpgme_strerror(err))
    }

    /// The private home reaches gpg through GNUPGHOME rather than
    /// gpgme_ctx_set_engine_info, which probes `gpg --version` again (one
    /// more process) for every context. The environment is the process's,
    /// so whoever holds this lock owns GNUPGHOME until the operation's gpg
    /// has exited; the previous value is put back afterwards.
    private static let homeLock = Mutex(())

    static func withHome<T: Sendable>(_ home: String, _ body: (Context) throws(RefreshError) -> T) throws(RefreshError) -> T {
        let result = homeLock.withLock { _ -> Result<T, RefreshError> in
            let previous = getenv("GNUPGHOME").map { String(cString: $0) }
            setenv("GNUPGHOME", home, 1)
            defer {
                if let previous { setenv("GNUPGHOME", previous, 1) } else { unsetenv("GNUPGHOME") }
            }
            return Result { () throws(RefreshError) -> T in try body(Context()) }
        }
        return try result.get()
    }

    final class Context {
        let handle: gpgme_ctx_t

        fileprivate init() throws(RefreshError) {
            var ctx: gpgme_ctx_t?
            let err = gpgme_new(&ctx)
            guard err == 0, let ctx else { throw RefreshError(.signature, "gpgme: \(text(err))") }
            handle = ctx
            gpgme_set_offline(ctx, 1)
        }

        deinit { gpgme_release(handle) }
    }

    final class Data {
        let handle: gpgme_data_t
        private var fd: Int32 = -1

        /// A copy of `bytes`, held by gpgme.
        init(bytes: [UInt8]) throws(RefreshError) {
            var dh: gpgme_data_t?
            let err = bytes.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { gpgme_data_new_from_mem(&dh, $0.baseAddress, $0.count, 1) }
            }
            guard err == 0, let dh else { throw RefreshError(.signature, "gpgme: \(text(err))") }
            handle = dh
        }

        /// Read from the file as gpg asks for it: the zone is never loaded
        /// into memory for verification.
        init(file: String) throws(RefreshError) {
            fd = open(file, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RefreshError(.local, "\(file): cannot open: \(errnoText())") }
            var dh: gpgme_data_t?
            let err = gpgme_data_new_from_fd(&dh, fd)
            guard err == 0, let dh else {
                close(fd)
                throw RefreshError(.signature, "gpgme: \(text(err))")
            }
            handle = dh
            // gpgme pumps the file to gpg through a pipe, by default 4 KiB
            // (PIPE_BUF) at a time: for the 1 MB root zone some 500 rounds
            // of poll, read and write, each waking gpg, while both cores
            // inflate and parse. 64 KiB, the pipe's capacity, cuts the
            // rounds. Not more: gpgme walks every buffer it hands to write()
            // in its trace routine, even with tracing off, and a buffer
            // larger than the pipe is walked again for each partial write
            // (callgrind: 126M instructions at 1 MiB, 15M at 4 or 64 KiB).
            _ = gpgme_data_set_flag(dh, "io-buffer-size", "65536")
        }

        deinit {
            gpgme_data_release(handle)
            if fd >= 0 { close(fd) }
        }
    }

    static func findExecutable(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
