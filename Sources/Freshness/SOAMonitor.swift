import Addressing
import DNSWire
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Asks the live roots for their SOA serial every `interval` (jittered, so
/// that a fleet of resolvers does not ask in step), remembers what they said
/// and since when the local data has been behind. It runs on a dispatch
/// queue of its own and only ever blocks there: answering never waits on it.
public final class SOAMonitor: Sendable {
    public struct Configuration: Sendable {
        /// Seconds between checks (15 minutes: the root changes about twice
        /// a day); nil: no checks of its own, only `checkNow` (`--check-interval off`).
        public var interval: Int? = 900
        /// Each wait is interval × (1 ± jitter).
        public var jitter: Double = 0.1
        public var timeoutMilliseconds: Int = 2000
        /// Servers to ask; empty means the apex name servers of the served zone.
        public var upstreams: [IPEndpoint] = []
        public var port: UInt16 = 53

        public init(interval: Int? = 900, jitter: Double = 0.1, timeoutMilliseconds: Int = 2000, upstreams: [IPEndpoint] = []) {
            self.interval = interval
            self.jitter = jitter
            self.timeoutMilliseconds = timeoutMilliseconds
            self.upstreams = upstreams
        }
    }

    /// What the served zone looks like now; the server answers this.
    public struct ServedZone: Sendable {
        public var serial: UInt32
        public var apexServerAddresses: [[UInt8]]
        public init(serial: UInt32, apexServerAddresses: [[UInt8]]) {
            self.serial = serial
            self.apexServerAddresses = apexServerAddresses
        }
    }

    /// One round of questions to the upstreams.
    public struct Observation: Sendable {
        public var time: Int64
        public var results: [SOAProbe.Result]
        public var view: UpstreamView

        public init(time: Int64, results: [SOAProbe.Result], view: UpstreamView) {
            self.time = time
            self.results = results
            self.view = view
        }
    }

    struct State {
        var last: Observation?
        /// The last round in which an upstream answered.
        var lastAnswered: Int64?
        var behindSince: Int64?
        var running = false
        var stopped = false
    }

    public let configuration: Configuration
    private let served: @Sendable () -> ServedZone?
    private let observed: @Sendable (Observation) -> Void
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    /// No upstream answered since, when none ever has.
    private let started = Int64(time(nil))

    /// `served` tells what is being served now; `observed` hears each
    /// round's outcome (for counters and logs), on the monitor's thread.
    public init(configuration: Configuration, served: @escaping @Sendable () -> ServedZone?,
                observed: @escaping @Sendable (Observation) -> Void = { _ in }) {
        self.configuration = configuration
        self.served = served
        self.observed = observed
    }

    /// Whom to ask: the configured upstreams, or the served zone's apex
    /// name servers' addresses; those that answered the last round first.
    public var upstreams: [IPEndpoint] {
        let all = configuration.upstreams.isEmpty
            ? (served()?.apexServerAddresses ?? []).map { IPEndpoint(address: $0, port: configuration.port) }
            : configuration.upstreams
        let answered = Set((lastObservation?.results ?? []).filter { $0.serial != nil }.map(\.upstream))
        return all.filter { answered.contains($0) } + all.filter { !answered.contains($0) }
    }

    public var lastObservation: Observation? { state.withLock { $0.last } }

    /// Asks every upstream once, now, on the calling thread.
    @discardableResult
    public func checkNow() -> Observation {
        let zone = served()
        let results = SOAProbe.serials(from: upstreams, timeoutMilliseconds: configuration.timeoutMilliseconds)
        let now = Int64(time(nil))
        let observation = Observation(time: now, results: results, view: .from(serials: results.compactMap(\.serial)))
        state.withLock { s in
            s.last = observation
            if observation.view != .unknown { s.lastAnswered = now }
            if observation.view.isAhead(of: zone?.serial) {
                if s.behindSince == nil { s.behindSince = now }
            } else if case .majority = observation.view {
                s.behindSince = nil
            }
        }
        observed(observation)
        return observation
    }

    /// Starts checking in the background: once now, then every interval;
    /// does nothing without an interval.
    public func start() {
        guard let interval = configuration.interval else { return }
        state.withLock { $0.running = true }
        DispatchQueue(label: "rootmirror.freshness").async { [self] in
            while !state.withLock({ $0.stopped }) {
                checkNow()
                let wait = Double(interval) * Double.random(in: (1 - configuration.jitter)...(1 + configuration.jitter))
                _ = wake.wait(timeout: .now() + .milliseconds(Int(wait * 1000)))
            }
            done.signal()
        }
    }

    public func stop() {
        let wasRunning = state.withLock { s -> Bool in
            defer { s.stopped = true }
            return s.running && !s.stopped
        }
        guard wasRunning else { return }
        wake.signal()
        done.wait()
    }

    /// The policy's input for the zone served now. Behind-ness is judged
    /// against the current serial, so a reload clears it at once. Checks
    /// scheduled or made and no answer: the upstreams are silent since
    /// the last round that had one, or since the start.
    public func input(now: Int64, localSerial: UInt32?, soaExpire: UInt32, lastRefresh: Int64?,
                      signaturesExpire: Int64? = nil, servesSignatures: Bool = false) -> FreshnessInput {
        state.withLock { s in
            let answered: Bool = if case .majority = s.last?.view { true } else { false }
            let checking = configuration.interval != nil || s.last != nil
            return FreshnessInput(now: now, localSerial: localSerial, soaExpire: soaExpire, lastRefresh: lastRefresh,
                                  upstream: s.last?.view ?? .unknown, behindSince: s.behindSince, signaturesExpire: signaturesExpire,
                                  servesSignatures: servesSignatures,
                                  upstreamsSilentSince: checking && !answered ? min(s.lastAnswered ?? started, now) : nil)
        }
    }
}
