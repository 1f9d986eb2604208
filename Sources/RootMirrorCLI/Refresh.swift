import Addressing
import ArgumentParser
import Refresh

struct RefreshCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "refresh",
        abstract: "Fetch the signed root zone, verify it, compile it and install data.cdb.",
        discussion: """
            Downloads root.zone.gz and root.zone.gz.sig (from internic unless --url), checks the \
            signature with gpgme against the pinned internic key in a private GnuPG home, compiles \
            the zone and installs data.cdb by rename, so that `serve` picks it up. On any failure \
            data.cdb stays as it was and one line on stderr says why.

            Before it is judged, the zone must pass `rootmirror verify`: its DNSSEC chain from the \
            root trust anchors and its ZONEMD digest (--dnssec, --zonemd, --trust-anchor, --now; \
            a check not made is named in the summary line and missing from verified= in DATA.state). Refused even when validly signed: a bad DNSSEC chain \
            or ZONEMD digest, a serial older than the installed one (--force \
            overrides), fewer TLDs than --min-tlds. The same serial is a quiet success. State \
            (last success, serial, source, HTTP validators) is kept in DATA.state, the lock in \
            DATA.lock.

            Exit status: 0 installed or nothing new; 1 local failure (cannot write); 2 fetch \
            (network, HTTP status, timeout, over the size cap); 3 signature (bad, wrong key, \
            revoked or expired key, unusable keyring); 4 data (corrupt gzip, zone errors, DNSSEC \
            or ZONEMD verification failed, older serial, too few TLDs); 5 another refresh is running; 64 bad arguments.
            """
    )

    @Option(name: .shortAndLong, help: "The data.cdb to install.")
    var data = "data.cdb"

    @Option(help: ArgumentHelp(
        "Source, tried in order until one passes every check (repeatable; default internic): a mirror's directory URL (root.zone.gz is appended) or .gz URL, signed by URL.sig; or axfr://HOST[:PORT], a zone transfer, for which DNSSEC and ZONEMD are required.",
        valueName: "url"))
    var url: [String] = []

    @Option(help: "Verify against the OpenPGP public key(s) in this file instead of the built-in internic key.")
    var keyring: String?

    @Option(help: "Require the signature to be by this key fingerprint (default: internic's, or any key in --keyring).")
    var fingerprint: String?

    @Option(help: "Install from this local root.zone.gz (or root.zone) instead of downloading; needs --sig.")
    var file: String?

    @Option(help: "The detached signature of --file.")
    var sig: String?

    @Flag(help: "Print nothing unless something fails (for cron).")
    var quiet = false

    @Flag(help: "Install even if the serial is not newer, and download even if unchanged.")
    var force = false

    @Flag(help: "Keep RRSIG, DNSKEY, DS, NSEC, ZONEMD and other DNSSEC records, for validating resolvers.")
    var keepDNSSEC = false

    // Named explicitly: derived from the property it would be --min-tl-ds.
    @Option(name: .customLong("min-tlds"), help: "Refuse a zone with fewer TLDs than this.")
    var minTLDs = 1000

    @Option(help: "Refuse a download larger than this many MiB.")
    var maxSize = FetchOptions().maximumSize >> 20

    @Option(help: "Seconds to wait for a connection.")
    var connectTimeout = 10.0

    @Option(help: "Seconds one whole download may take.")
    var timeout = 300.0

    @Option(help: "Attempts after the first, for errors that may pass.")
    var retries = 2

    @OptionGroup(title: "Verification") var proofs: ProofOptions

    func validate() throws {
        if (file == nil) != (sig == nil) { throw ValidationError("--file and --sig go together") }
        if file != nil && !url.isEmpty { throw ValidationError("--file and --url exclude each other") }
        if connectTimeout <= 0 || timeout <= 0 { throw ValidationError("timeouts must be positive") }
        if retries < 0 || minTLDs < 0 || maxSize <= 0 { throw ValidationError("--retries, --min-tlds and --max-size must not be negative") }
    }

    func run() throws {
        try runBlocking { try await refresh() }
    }

    private func refresh() async throws {
        let started = ContinuousClock.now
        var options = RefreshOptions()
        options.data = data
        options.force = force
        options.keepDNSSEC = keepDNSSEC
        options.minimumTLDs = minTLDs
        options.fetch.maximumSize = maxSize << 20
        options.fetch.connectTimeout = .milliseconds(Int(connectTimeout * 1000))
        options.fetch.timeout = .milliseconds(Int(timeout * 1000))
        options.fetch.retries = retries
        options.proofs = try proofs.policy(origin: .root)
        options.sources = try file.map { [.files(zone: $0, signature: sig!)] } ?? urls.map(source)
        do throws(RefreshError) {
            if let keyring {
                options.verifier = try SignatureVerifier(keyringFile: keyring, fingerprint: fingerprint)
            } else if let fingerprint {
                options.verifier.pinnedFingerprints = [SignatureVerifier.normalized(fingerprint)]
            }
            let outcome = try await Refresher.run(options, logger: Refresher.standardErrorLogger(quiet: quiet),
                                                 progress: quiet ? nil : Progress.onTerminal())
            if !quiet { print(summary(outcome, since: started)) }
        } catch {
            // One line whatever a server or gpg put in the text: cron mails it.
            let line = error.description.split(whereSeparator: \.isNewline).joined(separator: " ")
            throw fail(line, exitCode: error.kind.exitCode)
        }
    }

    /// The sources to try, in order.
    var urls: [String] { url.isEmpty ? [RefreshOptions.internicURL] : url }

    /// `axfr://HOST[:PORT]` is a zone transfer; anything else a mirror URL.
    private func source(_ text: String) throws -> RefreshOptions.Source {
        guard text.hasPrefix("axfr://") else { return .url(text) }
        do {
            return .axfr(try IPEndpoint(parsing: String(text.dropFirst("axfr://".count)), defaultPort: 53))
        } catch {
            throw fail("--url: \(error) (axfr:// takes an address, not a host name)", exitCode: 64)
        }
    }

    /// "verified openpgp dnssec zonemd", and a proof that was not checked
    /// named as such: the log must show a zone taken on less evidence.
    private func proven(_ outcome: RefreshOutcome) -> String {
        let verified = outcome.verified ?? []
        let unchecked = [("dnssec", "DNSSEC", proofs.dnssec), ("zonemd", "ZONEMD", proofs.zonemd)].compactMap { key, name, requirement in
            verified.contains(key) ? nil : requirement == .off ? "\(name) off" : "\(name) absent"
        }
        return "verified \(verified.joined(separator: " "))" + (unchecked.isEmpty ? "" : " (\(unchecked.joined(separator: ", ")))")
    }

    private func summary(_ outcome: RefreshOutcome, since started: ContinuousClock.Instant) -> String {
        let elapsed = ContinuousClock.now - started
        let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let serial = outcome.serial.map(String.init) ?? "none"
        switch outcome.action {
        case .installed:
            let was = outcome.previousSerial.map { " (was \($0))" } ?? ""
            return "\(data): serial \(serial) installed\(was), \(outcome.tlds ?? 0) TLDs, from \(outcome.source), "
                + "\(proven(outcome)), \(ms) ms"
        case .unchanged:
            return "\(data): serial \(serial) already installed, nothing to do (\(outcome.source))"
        case .notModified:
            return "\(data): serial \(serial), \(outcome.source) not modified since the last refresh"
        }
    }
}
