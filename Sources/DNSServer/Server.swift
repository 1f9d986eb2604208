import Addressing
import Answering
import BuildInfo
import CDBStore
import CNetShim
import DNSWire
import Freshness
import Logging
import NIOCore
import ServiceNotify
import Telemetry
import TSIG
#if canImport(Glibc)
import Glibc
#endif

/// `rootmirror serve`: binds, drops privileges, loads data.cdb, answers over
/// UDP and TCP, reloads when the file is replaced or on SIGHUP, watches how
/// fresh the data is (SOA monitor, `/health`, `/metrics`, the expiry
/// action), and stops on SIGTERM or SIGINT.
public final class Server {
    public struct Configuration: Sendable {
        public var dataPath = "data.cdb"
        public var addresses: [ListenAddress] = []
        public var udpWorkers = availableCPUCount()
        public var tcpIdleTimeoutSeconds = 10
        public var tcpMaximumConnections = 256
        public var responder = Responder()
        public var user: String?
        public var chroot: String?
        /// How often data.cdb is checked for replacement.
        public var pollInterval = 1
        /// The HTTP endpoint (`/health`, `/metrics`); nil for none.
        public var statusAddress: IPEndpoint?
        /// The SOA monitor; its upstreams (empty: the served zone's own
        /// root servers) are also where expired queries are forwarded.
        public var monitor = SOAMonitor.Configuration()
        public var thresholds = FreshnessThresholds()
        public var expiryAction = ExpiryAction.forward
        /// Clients allowed to transfer the zone over TCP; empty: none.
        public var transferClients: [IPPrefix] = []
        /// `--transfer-key`: transfers and NOTIFY, in and out, signed with it (TSIG).
        public var transferKey: TSIGKey?
        /// Secondaries sent a NOTIFY after each reload.
        public var notifyTargets: [IPEndpoint] = []
        /// UDP replies a second per source prefix (`RateLimiter`); 0 for no limit.
        public var rateLimit = 0
        /// `serve --refresh`: the arguments of the `rootmirror refresh` the
        /// server runs to keep data.cdb fresh; nil for none (cron's job).
        public var refreshArguments: [String]?
        /// Addresses whose NOTIFY starts a refresh (with `refreshArguments`):
        /// the primaries refresh transfers from.
        public var primaries: [[UInt8]] = []

        public init() {}
    }

    private let configuration: Configuration
    private let logger: Logger
    /// IXFR's differences, when transfers are allowed.
    private let transferJournal: TransferJournal?

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        transferJournal = configuration.transferClients.isEmpty ? nil : TransferJournal(dataPath: configuration.dataPath, logger: logger)
    }

    /// Runs until SIGTERM or SIGINT. Throws, before serving anything, when
    /// an address cannot be bound, privileges cannot be dropped, or data.cdb
    /// cannot be loaded: the caller prints the one line and exits non-zero.
    public func run() throws(ServeError) {
        let c = configuration
        // Signals arrive through a pipe: their handlers only write the
        // signal number to it, on whatever thread the kernel picks (threads
        // of the Swift runtime may exist before this point, so no signal
        // mask can cover them all), and this thread reads it.
        let signals = try SignalPipe(catching: [SIGHUP, SIGTERM, SIGINT])
        signal(SIGPIPE, SIG_IGN)
        // Connected before --chroot hides the socket's path.
        let notifier: ServiceNotifier?
        do {
            notifier = try ServiceNotifier.fromEnvironment()
        } catch {
            throw ServeError("\(error)")
        }
        let account = try c.user.map { (name) throws(ServeError) in try Privileges.account(named: name) }
        // Reads /proc/self/maps now, before a chroot hides it.
        let memory = ResidentMemory()
        let health = ServeHealth(
            settings: .init(dataPath: c.dataPath, thresholds: c.thresholds, monitor: c.monitor, expiryAction: c.expiryAction,
                            transferClients: c.transferClients),
            metrics: ServerMetrics(), logger: logger)
        let listeners = try bind(health: health, watchdogInterval: notifier?.watchdogInterval)
        // SwiftNIO opens its sockets without close-on-exec: no descriptor
        // of the server's is for a process it starts.
        markDescriptorsCloseOnExec()
        let selfRefresh = c.refreshArguments.map { SelfRefresh(arguments: $0, logger: logger) }
        let (holder, seen): (ZoneHolder, FileIdentity?)
        do throws(ServeError) {
            (holder, seen) = try dropPrivilegesAndLoad(account: account, selfRefresh: selfRefresh, health: health)
        } catch {
            listeners.stop()
            throw error
        }

        health.attach(holder, modified: seen?.modifiedSeconds)
        // Judged before the first query: data that is already expired at
        // start is never served, not even for a second.
        health.update()
        let transferGuard = TransferGuard(key: c.transferKey)
        let serving = ServingContext(holder: holder, responder: c.responder, metrics: health.metrics, expiry: health.expiry,
                                     secondaries: health.secondaries,
                                     notifications: NotifyReceiver(primaries: c.primaries, refresh: selfRefresh, logger: logger,
                                                                   transferGuard: transferGuard),
                                     transferGuard: transferGuard, logger: logger)
        listeners.udp.start(serving)
        listeners.tcp.start(serving)
        health.start()
        selfRefresh?.start(health: health)
        logServing(holder.zone, http: listeners.status != nil, refreshing: selfRefresh != nil, health: health)

        var supervisor = Supervisor(server: self, signals: signals, notifier: notifier, listeners: listeners, health: health,
                                    holder: holder, seen: seen, memory: memory)
        supervisor.run()
        listeners.status?.stop()
        selfRefresh?.stop()
        health.stop()
        listeners.tcp.stop()
        listeners.udp.stop()
        logger.info("stopped")
    }

    /// The sockets, bound as root before anything else: all of them, or
    /// none (what was bound is closed again) and the error.
    private func bind(health: ServeHealth, watchdogInterval: Duration?) throws(ServeError) -> Listeners {
        let c = configuration
        // TCP first: the UDP sockets use SO_REUSEPORT, so a second instance
        // started on the same address would bind them and take a share of
        // the queries; the TCP bind, exclusive, stops it before that.
        let tcp = try TCPServer(
            addresses: c.addresses,
            settings: .init(idleTimeout: .seconds(Int64(c.tcpIdleTimeoutSeconds)), maximumConnections: c.tcpMaximumConnections,
                            transferClients: c.transferClients))
        let udp: UDPServer
        do {
            udp = try UDPServer(addresses: c.addresses, workers: c.udpWorkers, rateLimit: c.rateLimit,
                                receiveTimeout: min(.seconds(1), watchdogInterval.map(AnsweringWatchdog.receiveTimeout) ?? .seconds(1)),
                                logger: logger)
        } catch {
            tcp.stop()
            throw error
        }
        do {
            return Listeners(tcp: tcp, udp: udp, status: try startStatusServer(health))
        } catch {
            tcp.stop()
            udp.stop()
            throw error
        }
    }

    /// Into the jail and the account, then the first refresh when there is
    /// no data yet, then the first load: as the user every later reload
    /// (and refresh) runs as, so that a file it could not read fails now.
    private func dropPrivilegesAndLoad(account: Privileges.Account?, selfRefresh: SelfRefresh?,
                                       health: ServeHealth) throws(ServeError) -> (ZoneHolder, FileIdentity?) {
        let c = configuration
        if let directory = c.chroot { try Privileges.confine(to: directory) }
        if let account { try Privileges.become(account) }
        if let selfRefresh, FileIdentity(path: c.dataPath) == nil {
            let attempt = selfRefresh.run(reason: "no data", serving: nil)
            health.refreshed(attempt)
            guard attempt.succeeded else { throw ServeError("\(c.dataPath) is missing and the refresh failed: \(attempt.message)") }
        }
        let seen = FileIdentity(path: c.dataPath)
        return (ZoneHolder(try load()), seen)
    }

    private func logServing(_ zone: ZoneIndex, http: Bool, refreshing: Bool, health: ServeHealth) {
        let c = configuration
        logger.info("serving", metadata: [
            "version": "\(BuildInfo.description)",
            "addresses": "\(c.addresses.map(\.description).joined(separator: " ")) (udp+tcp)",
            "serial": "\(zone.soa.serial)", "tlds": "\(zone.delegationCount)", "records": "\(zone.recordCount)",
            "data": "\(c.dataPath)", "udp-workers": "\(c.udpWorkers)",
            "http": "\(http ? c.statusAddress!.description : "off")",
            "transfers": "\(c.transferClients.isEmpty ? "none" : c.transferClients.map(\.description).joined(separator: " "))",
            "soa-checks": "\(c.monitor.interval.map { "every \($0)s" } ?? "off")",
            "rate-limit": "\(c.rateLimit == 0 ? "off" : "\(c.rateLimit)/s per prefix")",
            "refresh": "\(refreshing ? "on a newer upstream serial, checked every \(zone.soa.refresh)s" : "off")",
            "freshness": "\(health.report().assessment.status)",
        ])
    }

    /// The bound sockets and the HTTP endpoint.
    struct Listeners {
        let tcp: TCPServer
        let udp: UDPServer
        let status: StatusServer?

        func stop() {
            status?.stop()
            tcp.stop()
            udp.stop()
        }
    }

    /// The main thread once serving: signals, data.cdb once per interval,
    /// the answering threads for the watchdog, memory shed after start-up
    /// and reloads, NOTIFY after each reload; until SIGTERM or SIGINT.
    private struct Supervisor {
        let server: Server
        let signals: SignalPipe
        let notifier: ServiceNotifier?
        let health: ServeHealth
        let holder: ZoneHolder
        let memory: ResidentMemory
        let secondaries: ZoneNotifier
        var watchdog: AnsweringWatchdog?
        var seen: FileIdentity?
        var statusShown: String
        /// Memory is shed again once every UDP worker has let go of the old
        /// index: each drops it at its next batch, or at its receive timeout
        /// (a second at most) when no query comes.
        static let shedDelay = Duration.seconds(2)
        var shedAt: ContinuousClock.Instant?
        var codeShedAt = ContinuousClock.now + ResidentMemory.codeInterval

        init(server: Server, signals: SignalPipe, notifier: ServiceNotifier?, listeners: Listeners, health: ServeHealth,
             holder: ZoneHolder, seen: FileIdentity?, memory: ResidentMemory) {
            let c = server.configuration
            self.memory = memory
            self.server = server
            self.signals = signals
            self.notifier = notifier
            self.health = health
            self.holder = holder
            self.seen = seen
            watchdog = notifier.flatMap { notifier in
                notifier.watchdogInterval.map { AnsweringWatchdog(notifier: notifier, interval: $0, udp: listeners.udp.pulses, tcp: listeners.tcp) }
            }
            secondaries = ZoneNotifier(targets: c.notifyTargets, sources: c.addresses, key: c.transferKey, logger: server.logger)
            statusShown = server.statusLine(holder, health)
        }

        mutating func run() {
            // Start-up is over once the transports run: shed its memory now
            // and once more an interval later, when the threads have settled.
            memory.shed()
            shedAt = .now + Self.shedDelay
            // Once at start too: a secondary that missed a reload while this
            // server was down learns of the serial now, not at its SOA refresh.
            secondaries.announce(holder.zone.summary.soaRecord)
            notifier?.ready(status: statusShown)
            let c = server.configuration
            let wait = min(c.pollInterval * 1000, notifier?.watchdogInterval.map { max(10, Int($0 / .milliseconds(1))) } ?? Int.max)
            let logger = server.logger
            while true {
                let s = signals.wait(milliseconds: wait)
                watchdog?.check(logger: logger)
                shedIfDue()
                if s == SIGTERM || s == SIGINT {
                    logger.info("stopping", metadata: ["signal": "\(s == SIGTERM ? "TERM" : "INT")"])
                    notifier?.stopping()
                    return
                }
                reloadOrUpdate(hangup: s == SIGHUP)
            }
        }

        private mutating func shedIfDue() {
            if let at = shedAt, ContinuousClock.now >= at {
                memory.shed()
                shedAt = nil
            }
            if ContinuousClock.now >= codeShedAt {
                memory.shedCode()
                codeShedAt = .now + ResidentMemory.codeInterval
            }
        }

        /// A reload on SIGHUP or a replaced data.cdb; else the freshness
        /// verdict brought up to date, and systemd's status line with it.
        private mutating func reloadOrUpdate(hangup: Bool) {
            let now = FileIdentity(path: server.configuration.dataPath)
            var reason: String?
            if hangup {
                reason = "SIGHUP"
            } else if now != seen, now != nil {
                reason = "data.cdb replaced"
            }
            // Remembered even when the load fails, so a bad file is
            // reported once, and retried only when it changes again.
            seen = now
            if let reason {
                notifier?.reloading()
                let reloaded = server.reload(into: holder, reason: reason)
                health.reloaded(succeeded: reloaded, modified: now?.modifiedSeconds)
                if reloaded { secondaries.announce(holder.zone.summary.soaRecord) }
                statusShown = server.statusLine(holder, health)
                notifier?.ready(status: statusShown)
                shedAt = .now + Self.shedDelay
            } else {
                health.update()
                let line = server.statusLine(holder, health)
                if line != statusShown {
                    statusShown = line
                    notifier?.status(line)
                }
            }
        }
    }

    /// `systemctl status`'s line: the serial served and how fresh it is.
    private func statusLine(_ holder: ZoneHolder, _ health: ServeHealth) -> String {
        let mode = health.expiry.mode
        return "serving serial \(holder.zone.soa.serial), freshness \(health.status.map { "\($0)" } ?? "unknown")"
            + (mode == "serve" ? "" : ", queries: \(mode)")
    }

    /// Binds the HTTP endpoint, if any. Its handlers build each answer
    /// from `health` at request time. A taken address stops the start, even
    /// the default one: a second instance without /health would leave
    /// `check` and Prometheus reporting on the first.
    private func startStatusServer(_ health: ServeHealth) throws(ServeError) -> StatusServer? {
        guard let address = configuration.statusAddress else { return nil }
        do {
            return try StatusServer(host: address.host, port: Int(address.port),
                                    health: { health.report() }, metrics: { health.exposition() })
        } catch {
            throw ServeError("cannot bind http \(address): \(networkErrorText(error)) (--http ADDR:PORT chooses another, --http off none)")
        }
    }

    private func load() throws(ServeError) -> ZoneIndex {
        do {
            let records = try DataStore.load(path: configuration.dataPath)
            guard let transferJournal else { return try ZoneIndex(records: records) }
            return try ZoneIndex(records: records, transferable: true, journal: transferJournal.journal(for: records))
        } catch let error as StoreError {
            throw ServeError("cannot load \(error)")
        } catch {
            throw ServeError("cannot load \(configuration.dataPath): \(error)")
        }
    }

    /// Builds the new index on this thread, off the answering threads, and
    /// swaps it in only when complete; a file that fails is refused and the
    /// old data keeps serving.
    private func reload(into holder: ZoneHolder, reason: String) -> Bool {
        let old = holder.zone.soa.serial
        do {
            let zone = try load()
            holder.replace(with: zone)
            logger.info("reloaded", metadata: [
                "reason": "\(reason)", "serial": "\(old) -> \(zone.soa.serial)",
                "tlds": "\(zone.delegationCount)", "records": "\(zone.recordCount)",
            ])
            return true
        } catch {
            logger.error("reload refused, still serving serial \(old)", metadata: ["reason": "\(reason)", "error": "\(error)"])
            return false
        }
    }
}

/// Sets close-on-exec on every descriptor open now but the standard three.
private func markDescriptorsCloseOnExec() {
    guard let directory = opendir("/proc/self/fd") else { return }
    defer { closedir(directory) }
    let own = dirfd(directory)
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard let fd = Int32(name), fd > 2, fd != own else { continue }
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }
}

/// What the transports answer with: the zone, how to answer, where to
/// count, and whether the data has expired.
struct ServingContext: Sendable {
    let holder: ZoneHolder
    let responder: Responder
    let metrics: ServerMetrics
    let expiry: ExpiryState
    /// Present when some client may transfer the zone.
    let secondaries: SecondaryLog?
    let notifications: NotifyReceiver
    let transferGuard: TransferGuard
    let logger: Logger

    /// Present when some client may transfer the zone.
    var secondaryRequests: SecondaryRequests? {
        secondaries.map { SecondaryRequests(log: $0, transferGuard: transferGuard, expiry: expiry, responder: responder, logger: logger) }
    }
}

/// What identifies one version of data.cdb: a rename gives a new inode, an
/// in-place rewrite a new size or modification time.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: timespec
    var changed: timespec

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        modified = st.st_mtim
        changed = st.st_ctim
    }

    var modifiedSeconds: Int64 { Int64(modified.tv_sec) }

    static func == (a: FileIdentity, b: FileIdentity) -> Bool {
        a.device == b.device && a.inode == b.inode && a.size == b.size
            && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
            && a.changed.tv_sec == b.changed.tv_sec && a.changed.tv_nsec == b.changed.tv_nsec
    }
}
