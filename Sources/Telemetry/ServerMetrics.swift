import Answering
import CDBStore
import DNSWire
import Prometheus
import Synchronization

/// The server's counters and gauges, in a Prometheus registry.
///
/// Every counter a query can touch is created up front, one per label set,
/// so that counting a query on the hot path is one relaxed atomic add: no
/// lookup, no lock, no allocation.
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    private static let transports: [Transport] = [.udp, .tcp]
    /// In code order, so that codes 0-5 index themselves; BADVERS is 6, anything else 7.
    private static let rcodes: [RCode] = [.noError, .formErr, .servFail, .nxDomain, .notImp, .refused, .badVers]
    private static let kindCount = ReplyKind.allCases.count
    private let queries: [Counter]
    private let truncated: [Counter]
    private let dropped: [Counter]
    public let malformed: Counter
    /// Queries over the rate limit: dropped, and slipped (answered with TC).
    private let rateLimited: [Counter]
    public let reloadsSucceeded: Counter
    public let reloadsFailed: Counter
    public let forwarded: Counter
    public let forwardFailures: Counter
    public let checks: Counter
    public let checkFailures: Counter
    public let refreshesSucceeded: Counter
    public let refreshesFailed: Counter
    public let zoneSerial: Gauge
    public let dataAge: Gauge
    public let upstreamSerial: Gauge
    public let upstreamsAnswering: Gauge
    public let signaturesExpire: Gauge
    /// By `SecondaryLog.index(kind, outcome)`.
    let transfers: [Counter]
    public let secondariesBehind: Gauge
    /// One gauge per key of DATA.anchors, by label set; replaced as keys come and go.
    private let trustAnchorGauges = Mutex<[String: Gauge]>([:])

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        var queries: [Counter] = []
        for transport in Self.transports {
            for kind in ReplyKind.allCases {
                for rcode in Self.rcodes + [RCode(rawValue: 0xFFFF)] {
                    queries.append(registry.makeCounter(
                        name: "rootmirror_queries_total",
                        labels: [("transport", "\(transport)"), ("kind", kind.rawValue),
                                 ("rcode", rcode.rawValue == 0xFFFF ? "other" : "\(rcode)")],
                        help: "Queries answered, by transport, kind of reply and response code."))
                }
            }
        }
        self.queries = queries
        truncated = Self.transports.map {
            registry.makeCounter(name: "rootmirror_truncated_replies_total", labels: [("transport", "\($0)")],
                                 help: "Replies sent with TC set because required data did not fit.")
        }
        dropped = Self.transports.map {
            registry.makeCounter(name: "rootmirror_dropped_packets_total", labels: [("transport", "\($0)")],
                                 help: "Packets not answered: shorter than a header, or with QR set.")
        }
        malformed = registry.makeCounter(name: "rootmirror_malformed_queries_total", labels: [],
                                         help: "Queries answered FORMERR.")
        rateLimited = ["dropped", "slipped"].map {
            registry.makeCounter(name: "rootmirror_rate_limited_total", labels: [("action", $0)],
                                 help: "UDP queries over --rate-limit: dropped, or slipped (answered with TC only).")
        }
        reloadsSucceeded = registry.makeCounter(name: "rootmirror_reloads_total", labels: [("result", "ok")],
                                                help: "Reloads of data.cdb, by result.")
        reloadsFailed = registry.makeCounter(name: "rootmirror_reloads_total", labels: [("result", "failed")],
                                             help: "Reloads of data.cdb, by result.")
        forwarded = registry.makeCounter(name: "rootmirror_forwarded_queries_total", labels: [],
                                         help: "Queries relayed to the live roots because the local data expired.")
        forwardFailures = registry.makeCounter(name: "rootmirror_forward_failures_total", labels: [],
                                               help: "Relayed queries that got no answer from any live root.")
        checks = registry.makeCounter(name: "rootmirror_soa_checks_total", labels: [],
                                      help: "Rounds of SOA questions to the live roots.")
        checkFailures = registry.makeCounter(name: "rootmirror_soa_check_failures_total", labels: [],
                                             help: "Rounds of SOA questions that no upstream answered.")
        refreshesSucceeded = registry.makeCounter(name: "rootmirror_refreshes_total", labels: [("result", "ok")],
                                                  help: "Refreshes run by serve --refresh, by result.")
        refreshesFailed = registry.makeCounter(name: "rootmirror_refreshes_total", labels: [("result", "failed")],
                                               help: "Refreshes run by serve --refresh, by result.")
        zoneSerial = registry.makeGauge(name: "rootmirror_zone_serial", labels: [], help: "SOA serial of the zone being served.")
        dataAge = registry.makeGauge(name: "rootmirror_data_age_seconds", labels: [],
                                     help: "Seconds since the last successful refresh (-1 when none is recorded).")
        upstreamSerial = registry.makeGauge(name: "rootmirror_upstream_serial", labels: [],
                                            help: "SOA serial most live roots reported at the last check (0 when none answered).")
        upstreamsAnswering = registry.makeGauge(name: "rootmirror_upstreams_answering", labels: [],
                                                help: "Live roots that answered the last SOA check.")
        signaturesExpire = registry.makeGauge(name: "rootmirror_signatures_expire_seconds", labels: [],
                                              help: "Seconds until the earliest RRSIG served expires, negative once it has (NaN without DNSSEC data).")
        transfers = SecondaryLog.Kind.allCases.flatMap { kind in
            SecondaryLog.Outcome.allCases.map { outcome in
                registry.makeCounter(descriptor: MetricNameDescriptor(
                    metricName: "rootmirror_transfers", unitName: "total",
                    helpText: "Zone transfers asked of this server, by kind and result (refused: no transfer rights, or expired data)."),
                    labels: [("kind", kind.rawValue), ("result", outcome.rawValue)])
            }
        }
        secondariesBehind = registry.makeGauge(descriptor: MetricNameDescriptor(
            metricName: "rootmirror_secondaries_behind", unitName: "",
            helpText: "Secondaries whose last known serial is older than the one served."))
    }

    /// Counts one packet and what was done with it.
    @inline(__always)
    public func record(_ reply: Reply, transport: Transport) {
        let t = transport == .udp ? 0 : 1
        guard reply.length > 0 else {
            dropped[t].increment()
            return
        }
        let rcode = reply.rcode.rawValue < 6 ? Int(reply.rcode.rawValue) : (reply.rcode == .badVers ? 6 : 7)
        queries[(t * Self.kindCount + reply.kind.ordinal) * (Self.rcodes.count + 1) + rcode].increment()
        if reply.truncated { truncated[t].increment() }
        if reply.rcode == .formErr { malformed.increment() }
    }

    /// Counts one query over the rate limit; a slipped one's TC reply is
    /// counted by `record` too.
    public func recordRateLimited(slipped: Bool) {
        rateLimited[slipped ? 1 : 0].increment()
    }

    /// `rootmirror_trust_anchor{key_tag,algorithm,status}`: 1 for each key
    /// refresh follows, and for a pending key the time it becomes trusted
    /// in `rootmirror_trust_anchor_trusted_from_seconds` (Unix seconds).
    public func setTrustAnchors(_ state: TrustAnchorState?, now: Int64) {
        var wanted: [String: (MetricNameDescriptor, [(String, String)], Double)] = [:]
        for key in state?.keys ?? [] {
            let labels = [("key_tag", "\(key.keyTag)"), ("algorithm", "\(key.algorithm)")]
            let status = key.status == .trusted && !key.isTrusted(at: now) ? "inactive" : key.status.rawValue
            wanted["\(key.keyTag)/\(key.algorithm)/\(status)"] = (Self.trustAnchorDescriptor, labels + [("status", status)], 1)
            if key.status == .pending, let from = key.trustedFrom {
                wanted["\(key.keyTag)/\(key.algorithm)/from"] = (Self.trustedFromDescriptor, labels, Double(from))
            }
        }
        trustAnchorGauges.withLock { gauges in
            for (name, gauge) in gauges where wanted[name] == nil {
                registry.unregisterGauge(gauge)
                gauges[name] = nil
            }
            for (name, (descriptor, labels, value)) in wanted {
                let gauge = gauges[name] ?? registry.makeGauge(descriptor: descriptor, labels: labels)
                gauge.set(value)
                gauges[name] = gauge
            }
        }
    }

    private static var trustAnchorDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(
        metricName: "rootmirror_trust_anchor", unitName: "",
        helpText: "Root trust anchors refresh follows (RFC 5011), 1 per key, by status: trusted, inactive (trusted outside its validity window), pending, revoked.")
    }
    private static var trustedFromDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(
        metricName: "rootmirror_trust_anchor_trusted_from", unitName: "seconds",
        helpText: "Unix time a pending trust anchor becomes trusted, if the root still publishes it then.")
    }

    /// The Prometheus text exposition format (version 0.0.4).
    public func exposition() -> String {
        registry.emitToString()
    }
}

extension ReplyKind {
    /// Position in `allCases`, without building that array per query.
    var ordinal: Int {
        switch self {
        case .answer: return 0
        case .referral: return 1
        case .nodata: return 2
        case .nxdomain: return 3
        case .refused: return 4
        case .error: return 5
        }
    }
}
