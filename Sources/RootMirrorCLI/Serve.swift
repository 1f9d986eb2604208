import Addressing
import Answering
import ArgumentParser
import DNSServer
import Freshness
import Logging
import Refresh
#if canImport(Glibc)
import Glibc
#endif

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer root-zone queries from data.cdb over UDP and TCP.",
        discussion: """
            Listens on 127.53.53.53:53 (UDP and TCP) unless --listen is given; --listen repeats and \
            takes IPv6 as [::1]:53. data.cdb is loaded at start (a missing or invalid file is an \
            error then) and again whenever it is replaced (rename a new file over it, as \
            `rootmirror compile` does) or on SIGHUP; a new file that fails to load is refused and \
            the old data keeps serving. SIGTERM or SIGINT stops the server.

            With --chroot DIR the server confines itself to DIR after binding, and -d is then \
            read inside DIR (`--chroot /srv/rootmirror -d data.cdb` serves \
            /srv/rootmirror/data.cdb), as tinydns does with ROOT.

            Freshness: every --check-interval the server asks the root servers named in the zone \
            (or each --upstream) for their SOA serial, and judges the data ok, warning, critical \
            or expired (see README.md); `GET /health` (JSON) and `GET /metrics` (Prometheus) on \
            --http say so. The time of the last successful refresh is read from DATA.state, \
            written by `rootmirror refresh`, or else from data.cdb's modification time. Once the \
            data has expired (no refresh for longer than the SOA EXPIRE), queries are relayed to \
            the upstreams by default (--on-expiry), until fresh data is installed.

            A fleet: clients in an --allow-transfer prefix may copy the zone as served over TCP: \
            AXFR, or IXFR with the differences since their serial (kept in DATA.journal, written \
            by compile and refresh, or by the server when another tool replaced data.cdb); IXFR \
            over UDP gets the SOA alone. With --transfer-key, a transfer must also be signed with \
            that TSIG key (from --tsig-key), and every reply is signed. At start and after each \
            reload, every --notify address is sent a NOTIFY for the zone (signed with the key), \
            from the first --listen address of its family. With --refresh, a NOTIFY from an \
            axfr:// source or an --upstream starts a refresh at once; any other is refused.

            With --refresh the server keeps data.cdb fresh itself, running `rootmirror refresh` \
            (the same lock and state file as cron's run; the refresh options below are passed to \
            it) as a child process: at start when data.cdb is missing or older than the SOA \
            refresh interval, when the upstreams' serial is newer (checked every SOA refresh \
            interval, 30 minutes for the root), and at least once a day. A failed refresh is one \
            log line and the data served stays as it was. Not with --chroot. \
            \(RefreshArguments.defaultSourcesText)
            """
    )

    @OptionGroup(title: "What and where") var served: ServedData

    @Option(help: "Close a TCP connection idle for this many seconds (RFC 7766).")
    var tcpIdleTimeout = 10

    @Option(help: "Most TCP connections open at once; the oldest idle one is closed to admit a new one.")
    var tcpMaxConnections = 256

    @Option(help: "Largest UDP reply to an EDNS query, in bytes (512-65535).")
    var maxUdpPayload = 1232

    @Option(help: "UDP worker threads per address (default: one per CPU).")
    var udpThreads: Int?

    @Option(help: ArgumentHelp("Run as this user after binding.", valueName: "name"))
    var user: String?

    @Option(help: ArgumentHelp("Confine the server to this directory after binding.", valueName: "dir"))
    var chroot: String?

    @Option(help: ArgumentHelp("Answer to CHAOS TXT id.server and hostname.bind (default: this host's name; \"\" for none).", valueName: "text"))
    var chaosIdentity: String?

    @Option(help: ArgumentHelp("Answer to CHAOS TXT version.bind (\"\" for none).", valueName: "text"))
    var chaosVersion = "rootmirror"

    @Option(help: ArgumentHelp("HTTP endpoint for /health and /metrics, or \"off\" (default: 127.0.0.1:8053).", valueName: "addr:port"))
    var http: String?

    @Option(help: ArgumentHelp("How often to compare the serial with the upstreams, or \"off\".", valueName: "duration"))
    var checkInterval = "15m"

    @Option(help: ArgumentHelp("What to do once the data has expired: forward queries to the upstreams, answer servfail, or serve it anyway.",
                               valueName: "action"))
    var onExpiry = ExpiryAction.forward

    @Option(name: .customLong("allow-transfer"),
            help: ArgumentHelp("Let clients in this prefix transfer the zone over TCP (repeatable).", valueName: "prefix"))
    var allowTransfer: [String] = []

    @Option(help: ArgumentHelp("Send NOTIFY to this secondary at start and after each reload (repeatable).", valueName: "addr[:port]"))
    var notify: [String] = []

    @Option(help: ArgumentHelp("UDP replies a second per source /24 or /56; past it every second query gets TC and the others nothing; 0 for no limit. Default: \(Self.defaultRateLimit) when any --listen address is not loopback, else 0.",
                               valueName: "n"))
    var rateLimit: Int?

    /// NSD's default rrl-ratelimit.
    static let defaultRateLimit = 200

    @OptionGroup(title: "Freshness")
    var freshness: FreshnessOptions

    @OptionGroup(title: "Fleet authentication (TSIG)")
    var tsig: TSIGOptions

    @Flag(help: "Refresh data.cdb from the sources below when it is missing, old or behind the upstreams (as `rootmirror refresh`).")
    var refresh = false

    @OptionGroup(title: "Refresh")
    var source: RefreshArguments

    func run() throws {
        var config = Server.Configuration()
        let (data, listen) = (served.data, served.listen)
        config.dataPath = data
        do {
            config.addresses = try (listen.isEmpty ? ["127.53.53.53"] : listen).map { (text) throws(IPEndpointError) in
                try ListenAddress(parsing: text)
            }
        } catch {
            throw fail("--listen: \(error)", exitCode: 64)
        }
        do {
            config.transferClients = try allowTransfer.map { (text) throws(IPEndpointError) in try IPPrefix(parsing: text) }
        } catch {
            throw fail("--allow-transfer: \(error)", exitCode: 64)
        }
        config.transferKey = try tsig.key()
        // A key alone opens transfers to whoever holds it; with prefixes, both are needed.
        if config.transferKey != nil && config.transferClients.isEmpty {
            config.transferClients = [try! IPPrefix(parsing: "0.0.0.0/0"), try! IPPrefix(parsing: "::/0")]
        }
        do {
            config.notifyTargets = try notify.map { (text) throws(IPEndpointError) in try IPEndpoint(parsing: text, defaultPort: 53) }
        } catch {
            throw fail("--notify: \(error)", exitCode: 64)
        }
        guard tcpIdleTimeout > 0 else { throw fail("--tcp-idle-timeout must be positive", exitCode: 64) }
        guard tcpMaxConnections > 0 else { throw fail("--tcp-max-connections must be positive", exitCode: 64) }
        guard (512...65535).contains(maxUdpPayload) else { throw fail("--max-udp-payload must be 512 to 65535", exitCode: 64) }
        if let udpThreads {
            guard udpThreads > 0 else { throw fail("--udp-threads must be positive", exitCode: 64) }
            config.udpWorkers = udpThreads
        }
        if refresh {
            // gpg, the resolver's configuration and the CA certificates are all outside the jail.
            guard chroot == nil else {
                throw fail("--refresh does not work with --chroot (refresh needs gpg, DNS and CA certificates outside it); "
                    + "run `rootmirror refresh` from cron or the timer instead", exitCode: 64)
            }
            config.refreshArguments = ["-d", data] + source.arguments + tsig.arguments
            // A NOTIFY is heard from the primaries transferred from, and the upstreams asked.
            config.primaries = source.sources.compactMap { try? RefreshOptions.Source(parsing: $0) }.compactMap { source in
                if case .axfr(let server) = source { server.address } else { nil }
            } + (try freshness.upstreamEndpoints()).map(\.address)
        } else if !source.arguments.isEmpty {
            throw fail("--url, --keep-dnssec and the other refresh options need --refresh", exitCode: 64)
        }
        if let rateLimit, rateLimit < 0 { throw fail("--rate-limit must not be negative", exitCode: 64) }
        // A loopback listener answers this host only: nothing to reflect off it.
        config.rateLimit = rateLimit ?? (config.addresses.allSatisfy(\.endpoint.isLoopback) ? 0 : Self.defaultRateLimit)
        config.tcpIdleTimeoutSeconds = tcpIdleTimeout
        config.tcpMaximumConnections = tcpMaxConnections
        let identity = chaosIdentity ?? hostName()
        config.responder = Responder(
            maximumUDPPayload: maxUdpPayload,
            chaos: ChaosIdentity(version: chaosVersion.isEmpty ? nil : chaosVersion, identity: identity.isEmpty ? nil : identity))
        config.user = user
        config.chroot = chroot
        config.thresholds = try freshness.thresholds()
        config.expiryAction = onExpiry
        config.monitor = SOAMonitor.Configuration(
            interval: checkInterval == "off" ? nil : Int(try duration(checkInterval, "--check-interval")),
            timeoutMilliseconds: try freshness.checkTimeoutMilliseconds(), upstreams: try freshness.upstreamEndpoints())
        if http != "off" {
            do {
                config.statusAddress = try IPEndpoint(parsing: http ?? "127.0.0.1:8053", defaultPort: 8053)
            } catch {
                throw fail("--http: \(error)", exitCode: 64)
            }
        }

        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "rootmirror")
        do {
            try Server(configuration: config, logger: logger).run()
        } catch {
            throw fail(error)
        }
    }

    private func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, 255) == 0 else { return "" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension ExpiryAction: ExpressibleByArgument {}

/// -d and --listen, which every `serve` line names, in a section of their
/// own: ArgumentParser prints titled sections first, untitled options last.
struct ServedData: ParsableArguments {
    @Option(name: .shortAndLong, help: "The data.cdb to serve.")
    var data = defaultDataPath

    @Option(name: .customLong("listen"), help: ArgumentHelp("Address to serve on, UDP and TCP (repeatable).", valueName: "addr[:port]"))
    var listen: [String] = []
}
