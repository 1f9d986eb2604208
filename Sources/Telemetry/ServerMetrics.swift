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
        // One descriptor per metric name; a name with labels gets one call per label set.
        func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "total", helpText: help), labels: labels)
        }
        func gauge(_ name: String, unit: String = "", _ help: String) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: unit, helpText: help), labels: [])
        }
        queries = Self.transports.flatMap { transport in
            ReplyKind.allCases.flatMap { kind in
                (Self.rcodes + [RCode(rawValue: 0xFFFF)]).map { rcode in
                    counter("rootmirror_queries", "Queries answered, by transport, kind of reply and response code.",
                            [("transport", "\(transport)"), ("kind", kind.rawValue), ("rcode", rcode.rawValue == 0xFFFF ? "other" : "\(rcode)")])
                }
            }
        }
        truncated = Self.transports.map {
            counter("rootmirror_truncated_replies", "Replies sent with TC set because required data did not fit.", [("transport", "\($0)")])
        }
        dropped = Self.transports.map {
            counter("rootmirror_dropped_packets", "Packets not answered: shorter than a header, or with QR set.", [("transport", "\($0)")])
        }
        malformed = counter("rootmirror_malformed_queries", "Queries answered FORMERR.")
        rateLimited = ["dropped", "slipped"].map {
            counter("rootmirror_rate_limited", "UDP queries over --rate-limit: dropped, or slipped (answered with TC only).", [("action", $0)])
        }
        reloadsSucceeded = counter("rootmirror_reloads", "Reloads of data.cdb, by result.", [("result", "ok")])
        reloadsFailed = counter("rootmirror_reloads", "Reloads of data.cdb, by result.", [("result", "failed")])
        forwarded = counter("rootmirror_forwarded_queries", "Queries relayed to the live roots because the local data expired.")
        forwardFailures = counter("rootmirror_forward_failures", "Relayed queries that got no answer from any live root.")
        checks = counter("rootmirror_soa_checks", "Rounds of SOA questions to the live roots.")
        checkFailures = counter("rootmirror_soa_check_failures", "Rounds of SOA questions that no upstream answered.")
        refreshesSucceeded = counter("rootmirror_refreshes", "Refreshes run by serve --refresh, by result.", [("result", "ok")])
        refreshesFailed = counter("rootmirror_refreshes", "Refreshes run by serve --refresh, by result.", [("result", "failed")])
        zoneSerial = gauge("rootmirror_zone_serial", "SOA serial of the zone being served.")
        dataAge = gauge("rootmirror_data_age", unit: "seconds", "Seconds since the last successful refresh (-1 when none is recorded).")
        upstreamSerial = gauge("rootmirror_upstream_serial", "SOA serial most live roots reported at the last check (0 when none answered).")
        upstreamsAnswering = gauge("rootmirror_upstreams_answering", "Live roots that answered the last SOA check.")
        signaturesExpire = gauge("rootmirror_signatures_expire", unit: "seconds",
                                 "Seconds until the earliest RRSIG served expires, negative once it has (NaN without DNSSEC data).")
        transfers = SecondaryLog.Kind.allCases.flatMap { kind in
            SecondaryLog.Outcome.allCases.map { outcome in
                counter("rootmirror_transfers",
                        "Zone transfers asked of this server, by kind and result (refused: no transfer rights, or expired data).",
                        [("kind", kind.rawValue), ("result", outcome.rawValue)])
            }
        }
        secondariesBehind = gauge("rootmirror_secondaries_behind", "Secondaries whose last known serial is older than the one served.")
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
