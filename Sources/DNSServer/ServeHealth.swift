import Addressing
import Answering
import CDBStore
import DNSWire
import Freshness
import Logging
import Synchronization
import Telemetry
#if canImport(Glibc)
import Glibc
#endif

/// `serve`'s health, what `/health` and `/metrics` show, in one place: how
/// fresh the data is (the SOA monitor's last round, the refresh record
/// beside data.cdb, the policy's thresholds), the switch to the expiry
/// action and what the secondaries fetched. The policy that judges
/// freshness is `FreshnessPolicy`; this holds what it is fed. The watcher thread
/// calls `update` once a second and after every reload; the HTTP endpoint
/// reads `report` and `exposition` on its own thread. Nothing here is on
/// the answering path but the one atomic flag in `expiry`.
final class ServeHealth: Sendable {
    struct Settings: Sendable {
        var dataPath: String
        var thresholds: FreshnessThresholds
        /// Also whom expired queries are forwarded to.
        var monitor: SOAMonitor.Configuration
        var expiryAction: ExpiryAction
        var transferClients: [IPPrefix] = []
    }

    let metrics: ServerMetrics
    let expiry: ExpiryState
    let secondaries: SecondaryLog?
    /// Always there, as the one place that knows the upstreams; it asks
    /// them on its own only when it has an interval.
    let monitor: SOAMonitor
    private let settings: Settings
    private let logger: Logger
    private let served = ServedSlot()
    private let lastStatus = Mutex<FreshnessStatus?>(nil)
    private let lastReload = Atomic<Int64>(0)
    private let lastRefreshAttempt = Mutex<RefreshAttempt?>(nil)
    private let generation = Mutex<ServedGeneration?>(nil)

    /// How fresh the data served now is known to be: fixed when it was
    /// loaded, and moved on only by a refresh state that confirms this very
    /// serial. A refused file, a `touch` or a state written for another
    /// serial leave it alone: the age is the served data's, not a file's.
    struct ServedGeneration {
        var serial: UInt32
        var confirmed: Int64
        /// `refresh` (a state that names the serial) or `data.cdb written`.
        var source: String
    }

    init(settings: Settings, metrics: ServerMetrics, logger: Logger) {
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        secondaries = settings.transferClients.isEmpty ? nil : SecondaryLog(allowed: settings.transferClients, metrics: metrics)
        let served = self.served
        let monitor = SOAMonitor(configuration: settings.monitor, served: {
            served.zone.map { SOAMonitor.ServedZone(serial: $0.soa.serial, apexServerAddresses: $0.summary.apexServerAddresses) }
        }, observed: { observation in
            served.logReachability(of: observation, logger: logger)
            metrics.checks.increment()
            if case .unknown = observation.view { metrics.checkFailures.increment() }
        })
        self.monitor = monitor
        let forwarder = settings.expiryAction == .forward
            ? ExpiryForwarder(servers: { monitor.upstreams }, failures: { metrics.forwardFailures.increment() })
            : nil
        expiry = ExpiryState(action: settings.expiryAction, forwarder: forwarder)
    }

    /// The zone is loaded after the endpoint is bound (privileges are dropped
    /// in between): until then there is no data to report on. `modified`
    /// is the loaded file's modification time.
    func attach(_ holder: ZoneHolder, modified: Int64?) {
        served.holder.withLock { $0 = holder }
        lastReload.store(Int64(time(nil)), ordering: .relaxed)
        loaded(serial: holder.zone.soa.serial, modified: modified)
    }

    /// A generation was loaded: its confirmation is the state's, when the
    /// state names its serial, else the file's time. The same serial again
    /// (a touched or rewritten file) keeps what was known of it.
    private func loaded(serial: UInt32, modified: Int64?) {
        let now = Int64(time(nil))
        let state = (try? RefreshState.read(forData: settings.dataPath)) ?? RefreshState()
        generation.withLock { g in
            if let previous = g, previous.serial == serial { return }
            if let confirmed = state.confirmation(of: serial) {
                g = ServedGeneration(serial: serial, confirmed: trusted(confirmed, "data.cdb.state's confirmation", now: now), source: "refresh")
            } else {
                g = ServedGeneration(serial: serial, confirmed: trusted(modified ?? now, "data.cdb's modification time", now: now),
                                     source: "data.cdb written")
            }
        }
    }

    /// A time from a file, or now if it lies in the future: a clock that
    /// jumped or a hand edit must not pin the data's age at zero.
    private func trusted(_ time: Int64, _ what: String, now: Int64) -> Int64 {
        guard time > now else { return time }
        logger.warning("\(what) is in the future, taken as now",
                       metadata: ["time": "\(time)", "now": "\(Codecs.rfc3339Timestamp(epochSeconds: Int(now)))"])
        return now
    }

    /// The served generation, moved on by a state that confirms its serial later.
    private func servedGeneration(now: Int64, state: RefreshState) -> ServedGeneration? {
        generation.withLock { g in
            guard var current = g else { return nil }
            if let confirmed = state.confirmation(of: current.serial), confirmed > current.confirmed {
                current.confirmed = trusted(confirmed, "data.cdb.state's confirmation", now: now)
                current.source = "refresh"
                g = current
            }
            return current
        }
    }

    func start() { monitor.start() }

    func stop() {
        monitor.stop()
        expiry.forwarder?.stop()
    }

    func reloaded(succeeded: Bool, modified: Int64?) {
        if succeeded {
            metrics.reloadsSucceeded.increment()
            lastReload.store(Int64(time(nil)), ordering: .relaxed)
            if let zone { loaded(serial: zone.soa.serial, modified: modified) }
        } else {
            metrics.reloadsFailed.increment()
        }
        update()
    }

    /// A refresh `serve --refresh` ran: counted, and shown in `/health`.
    func refreshed(_ attempt: RefreshAttempt) {
        (attempt.succeeded ? metrics.refreshesSucceeded : metrics.refreshesFailed).increment()
        lastRefreshAttempt.withLock { $0 = attempt }
    }

    /// The zone served now, once loaded.
    var zone: ZoneIndex? { served.zone }

    /// Judges the data now; on a change of verdict, logs it and switches
    /// the transports to or from the expiry action.
    func update() {
        let report = report()
        let status = report.assessment.status
        // What a secondary's EXPIRE query is told: the served data's own
        // SOA expire, counted from when it was last confirmed.
        if let confirmed = report.input.lastRefresh, report.input.localSerial != nil {
            expiry.set(expiresAt: confirmed + Int64(report.input.soaExpire))
        }
        let previous = lastStatus.withLock { last -> FreshnessStatus? in
            defer { last = status }
            return last
        }
        let expired = status == .expired
        if expiry.isExpired != expired {
            expiry.set(expired: expired)
            if expired {
                logger.error("data expired", metadata: [
                    "serial": "\(report.input.localSerial.map(String.init) ?? "none")", "action": "\(settings.expiryAction.rawValue)",
                    "reason": "\(report.assessment.reasons.first ?? "")",
                ])
            } else {
                logger.notice("data no longer expired, answering from it again",
                              metadata: ["serial": "\(report.input.localSerial.map(String.init) ?? "none")"])
            }
        }
        guard let previous, previous != status else { return }
        let level: Logger.Level = status == .ok ? .notice : (status == .warning ? .warning : .error)
        logger.log(level: level, "freshness \(previous) -> \(status)",
                   metadata: ["reasons": "\(report.assessment.reasons.joined(separator: "; "))"])
    }

    /// The verdict of the last `update`.
    var status: FreshnessStatus? { lastStatus.withLock { $0 } }

    /// The `/health` document for this moment.
    func report() -> HealthReport {
        let now = Int64(time(nil))
        let zone = served.zone
        // What refresh proved holds for the data served only if refresh put it there.
        // One that cannot be read (not a regular file) proves nothing; refresh and check say why.
        let state = (try? RefreshState.read(forData: settings.dataPath)) ?? RefreshState()
        let served = servedGeneration(now: now, state: state)
        let proven = state.serial != nil && state.serial == zone?.soa.serial
        // Served RRSIGs are what a validating resolver checks; stripped data
        // still came from a signed zone whose expiry refresh recorded.
        let signaturesExpire = zone?.summary.signaturesExpire.map(Int64.init) ?? (proven ? state.signaturesExpire : nil)
        let input = monitor.input(now: now, localSerial: zone?.soa.serial, soaExpire: zone?.soa.expire ?? 0, lastRefresh: served?.confirmed,
                                  signaturesExpire: signaturesExpire, servesSignatures: zone?.summary.signaturesExpire != nil)
        let reload = lastReload.load(ordering: .relaxed)
        return HealthReport(assessment: FreshnessPolicy.assess(input, thresholds: settings.thresholds), input: input,
                            thresholds: settings.thresholds, observation: monitor.lastObservation,
                            lastReload: reload == 0 ? nil : reload, mode: expiry.mode, lastRefreshSource: served?.source,
                            verified: proven ? state.verified ?? [] : [], refreshAttempt: lastRefreshAttempt.withLock { $0 },
                            trustAnchors: Self.trustAnchors(forData: settings.dataPath), secondaries: secondaries?.secondaries)
    }

    /// DATA.anchors as refresh left it; nil when there is none.
    static func trustAnchors(forData data: String) -> Result<TrustAnchorState, StoreError>? {
        do throws(StoreError) {
            return try TrustAnchorState.read(forData: data).map { .success($0) }
        } catch {
            return .failure(error)
        }
    }

    /// `/metrics`, with the gauges set from the same moment's report.
    func exposition() -> String {
        let report = report()
        metrics.dataAge.set(report.assessment.age ?? -1)
        metrics.zoneSerial.set(Int64(report.input.localSerial ?? 0))
        metrics.signaturesExpire.set(report.input.signaturesExpire.map { Double($0 - report.input.now) } ?? .nan)
        metrics.setTrustAnchors(try? report.trustAnchors?.get(), now: report.input.now)
        metrics.secondariesBehind.set(Int64(report.secondariesBehind))
        switch report.input.upstream {
        case .unknown:
            metrics.upstreamSerial.set(Int64(0))
            metrics.upstreamsAnswering.set(Int64(0))
        case .majority(let serial, let answered):
            metrics.upstreamSerial.set(Int64(serial))
            metrics.upstreamsAnswering.set(Int64(answered))
        }
        return metrics.exposition()
    }
}

/// The zone holder, set once the zone is loaded; shared with the monitor's
/// and the forwarder's closures, which exist before it does.
private final class ServedSlot: Sendable {
    let holder = Mutex<ZoneHolder?>(nil)
    /// Whether any upstream answered the last round (nil before the first).
    private let reachable = Mutex<Bool?>(nil)

    var zone: ZoneIndex? { holder.withLock { $0 }?.zone }

    /// One line when the upstreams stop or start answering, not one per
    /// round: an unreachable upstream is a condition to report, not an
    /// error to repeat every 15 minutes.
    func logReachability(of observation: SOAMonitor.Observation, logger: Logger) {
        let answered = observation.results.filter { $0.serial != nil }.count
        let now = answered > 0
        let before = reachable.withLock { r -> Bool? in
            defer { r = now }
            return r
        }
        guard before != now else { return }
        if now {
            logger.info("upstreams answering", metadata: ["answered": "\(answered)", "asked": "\(observation.results.count)"])
        } else {
            logger.warning("no upstream answered the SOA check", metadata: [
                "asked": "\(observation.results.count)",
                "first-error": "\(observation.results.first?.error ?? "no upstreams")",
            ])
        }
    }
}
