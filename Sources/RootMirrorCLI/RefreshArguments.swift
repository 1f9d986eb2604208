import Addressing
import ArgumentParser
import Refresh

/// What to refresh from and what to demand of it: the options `refresh`
/// takes and `serve --refresh` passes on to the refresh it runs, spelled
/// the same in both.
struct RefreshArguments: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Source, tried in order until one passes every check (repeatable; default: internic, then the AXFR servers listed in the description): a mirror's directory URL (root.zone.gz is appended) or .gz URL, signed by URL.sig; or axfr://ADDR[:PORT], a zone transfer, for which DNSSEC and ZONEMD are required.",
        valueName: "url"))
    var url: [String] = []

    @Option(help: "Verify against the OpenPGP public key(s) in this file instead of the built-in internic key.")
    var keyring: String?

    @Option(help: "Require the signature to be by this key fingerprint (default: internic's, or any key in --keyring).")
    var fingerprint: String?

    @Flag(help: "Keep RRSIG, DNSKEY, DS, NSEC, ZONEMD and other DNSSEC records, for validating resolvers.")
    var keepDNSSEC = false

    // Named explicitly: derived from the property it would be --min-tl-ds.
    @Option(name: .customLong("min-tlds"), help: "Refuse a zone with fewer TLDs than this.")
    var minTLDs = Self.defaultMinimumTLDs

    @Option(help: "Refuse a download larger than this many MiB.")
    var maxSize = Self.defaultMaximumSize

    @Option(help: "Seconds to wait for a connection.")
    var connectTimeout = Self.defaultConnectTimeout

    @Option(help: "Seconds one whole download may take.")
    var timeout = Self.defaultTimeout

    @Option(help: "Attempts after the first, for errors that may pass.")
    var retries = Self.defaultRetries

    @Option(help: "Seconds the whole run may take, every source and retry included; then it gives up (exit 2).")
    var maxTime = Self.defaultMaximumTime

    @OptionGroup(title: "Verification") var proofs: ProofOptions

    static let defaultMinimumTLDs = RefreshOptions().minimumTLDs
    static let defaultMaximumSize = FetchOptions().maximumSize >> 20
    static let defaultConnectTimeout = seconds(FetchOptions().connectTimeout)
    static let defaultTimeout = seconds(FetchOptions().timeout)
    static let defaultRetries = FetchOptions().retries
    static let defaultMaximumTime = seconds(RefreshOptions().maximumTime)
    private static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    /// The default sources, for the help text and the manual page.
    static let defaultSourcesText = "Default sources, in order: " + RefreshOptions.defaultSources.joined(separator: " ") + "."

    func validate() throws {
        if connectTimeout <= 0 || timeout <= 0 || maxTime <= 0 { throw ValidationError("timeouts must be positive") }
        if retries < 0 || minTLDs < 0 || maxSize <= 0 { throw ValidationError("--retries, --min-tlds and --max-size must not be negative") }
        for text in url {
            do {
                _ = try RefreshOptions.Source(parsing: text)
            } catch {
                throw ValidationError("--url: \(error) (axfr:// takes an address, not a host name)")
            }
        }
        // Said at once rather than overridden in silence: a transfer carries
        // no OpenPGP signature, so the zone's own proofs are all that vouch for it.
        let relaxed = [("--dnssec", proofs.dnssec), ("--zonemd", proofs.zonemd)].compactMap { option, requirement in
            requirement.flatMap { $0 == .required ? nil : "\(option) \($0.rawValue)" }
        }
        if url.contains(where: { $0.hasPrefix("axfr://") }), !relaxed.isEmpty {
            throw ValidationError("\(relaxed.joined(separator: " ")): an axfr:// source carries no OpenPGP signature, so DNSSEC and ZONEMD are required of it")
        }
    }

    /// The sources to try, in order.
    var sources: [String] { url.isEmpty ? RefreshOptions.defaultSources : url }

    /// The options for one refresh of `data`, its signatures checked as of `clock`.
    func options(data: String, clock: ClockOption) throws -> RefreshOptions {
        var options = RefreshOptions()
        options.data = data
        options.keepDNSSEC = keepDNSSEC
        options.minimumTLDs = minTLDs
        options.fetch.maximumSize = maxSize << 20
        options.fetch.connectTimeout = .milliseconds(Int(connectTimeout * 1000))
        options.fetch.timeout = .milliseconds(Int(timeout * 1000))
        options.fetch.retries = retries
        options.maximumTime = .milliseconds(Int(maxTime * 1000))
        options.proofs = try proofs.policy(origin: .root, clock: clock)
        // Checked by validate().
        options.sources = sources.map { try! RefreshOptions.Source(parsing: $0) }
        return options
    }

    /// These options as `refresh` reads them back; only those changed from
    /// their defaults, so that `serve --refresh` alone passes none.
    var arguments: [String] {
        var out = url.flatMap { ["--url", $0] }
        if let keyring { out += ["--keyring", keyring] }
        if let fingerprint { out += ["--fingerprint", fingerprint] }
        if keepDNSSEC { out.append("--keep-dnssec") }
        if minTLDs != Self.defaultMinimumTLDs { out += ["--min-tlds", "\(minTLDs)"] }
        if maxSize != Self.defaultMaximumSize { out += ["--max-size", "\(maxSize)"] }
        if connectTimeout != Self.defaultConnectTimeout { out += ["--connect-timeout", "\(connectTimeout)"] }
        if timeout != Self.defaultTimeout { out += ["--timeout", "\(timeout)"] }
        if retries != Self.defaultRetries { out += ["--retries", "\(retries)"] }
        if maxTime != Self.defaultMaximumTime { out += ["--max-time", "\(maxTime)"] }
        return out + proofs.arguments
    }
}
