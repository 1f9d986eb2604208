import ArgumentParser
import DNSSEC
import DNSWire
#if canImport(Glibc)
import Glibc
#endif

extension VerificationPolicy.Requirement: ExpressibleByArgument {}

/// The options that say what DNS's own proofs must show, shared by
/// `verify`, `compile --verify` and `refresh`.
struct ProofOptions: ParsableArguments {
    @Option(name: .customLong("trust-anchor"),
            help: ArgumentHelp("IANA's root-anchors.xml, or DS or DNSKEY records (zone-file syntax, like /usr/share/dns/root.key), to trust instead of the built-in IANA root anchors; repeatable. refresh adds them to what it has learned (RFC 5011).",
                               valueName: "file"))
    var trustAnchors: [String] = []

    @Option(help: "DNSSEC chain from the trust anchors: required, optional (checked if the zone is signed) or off. Default: required for '.', else required with --trust-anchor and off without.")
    var dnssec: VerificationPolicy.Requirement?

    @Option(help: "ZONEMD digest (RFC 8976): required, optional or off. Default: required for '.', else optional.")
    var zonemd: VerificationPolicy.Requirement?

    /// These options as they are read, for a command run on the caller's behalf.
    var arguments: [String] {
        trustAnchors.flatMap { ["--trust-anchor", $0] }
            + (dnssec.map { ["--dnssec", $0.rawValue] } ?? []) + (zonemd.map { ["--zonemd", $0.rawValue] } ?? [])
    }

    /// The policy for a zone at `origin`, checked as of `clock`; a
    /// trust-anchor file that does not read is bad input (exit 1), named in one line.
    func policy(origin: DNSName, clock: ClockOption) throws -> VerificationPolicy {
        let time = clock.time
        // Windows are the verifier's to apply: refresh keeps a seed that is
        // not valid yet, verify names one that is no longer.
        var anchors = RootAnchors.all
        if !trustAnchors.isEmpty {
            anchors = []
            for file in trustAnchors {
                do {
                    anchors += try TrustAnchor.read(file: file)
                } catch {
                    throw fail("trust anchor: \(error)")
                }
            }
        }
        let root = origin.isRoot
        return VerificationPolicy(dnssec: dnssec ?? (root || !trustAnchors.isEmpty ? .required : .off),
                                  zonemd: zonemd ?? (root ? .required : .optional), anchors: anchors, now: time)
    }
}

/// `--now`: the commands that check a zone's signatures once (verify,
/// compile --verify, refresh) may check them as of another time; `serve`
/// runs for days on the real clock, so it does not offer it.
struct ClockOption: ParsableArguments {
    @Option(help: ArgumentHelp("Check signatures as of this RFC 3339 UTC time (2023-05-11T12:00:00Z) instead of now.", valueName: "time"))
    var now: String?

    func validate() throws {
        if let now, UTCTime.parse(now) == nil {
            throw ValidationError("--now '\(now)' is not an RFC 3339 time such as 2023-05-11T12:00:00Z")
        }
    }

    /// The time to check as of, in seconds since the epoch.
    var time: Int64 { now.flatMap(UTCTime.parse) ?? Int64(Glibc.time(nil)) }
}
