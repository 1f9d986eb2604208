import BuildInfo
import CDBStore
import DNSWire
import Freshness

/// The `/health` document: everything an ISP's monitoring needs to judge
/// one resolver's local root, and the HTTP status its load balancers and
/// probes act on (200 for ok and warning, 503 for critical, expired or no
/// data). The JSON is written by hand so that the serving process does not
/// page in Foundation for one small document.
public struct HealthReport: Sendable {
    public var assessment: FreshnessAssessment
    public var input: FreshnessInput
    public var thresholds: FreshnessThresholds
    public var observation: SOAMonitor.Observation?
    public var lastReload: Int64?
    /// What the server does with queries now (`serve`, `forward`, `servfail`).
    public var mode: String
    /// How `input.lastRefresh` is known: `refresh` (its state file) or
    /// `data.cdb written` (a compile by hand, or no state file).
    public var lastRefreshSource: String?
    /// The proofs the served zone passed when refresh installed it
    /// (`openpgp`, `dnssec`, `zonemd`; empty when not known).
    public var verified: [String]
    /// The last refresh `serve --refresh` ran; nil without --refresh or before the first.
    public var refreshAttempt: RefreshAttempt?
    /// The trust anchors refresh follows (RFC 5011), from DATA.anchors:
    /// nil before a refresh with DNSSEC checks wrote it, or the reason it
    /// does not read.
    public var trustAnchors: Result<TrustAnchorState, StoreError>?
    /// The clients with transfer rights heard from, when transfers are allowed.
    public var secondaries: [SecondaryLog.Secondary]?

    public init(assessment: FreshnessAssessment, input: FreshnessInput, thresholds: FreshnessThresholds,
                observation: SOAMonitor.Observation?, lastReload: Int64?, mode: String, lastRefreshSource: String? = nil,
                verified: [String] = [], refreshAttempt: RefreshAttempt? = nil,
                trustAnchors: Result<TrustAnchorState, StoreError>? = nil, secondaries: [SecondaryLog.Secondary]? = nil) {
        self.assessment = assessment
        self.input = input
        self.thresholds = thresholds
        self.observation = observation
        self.lastReload = lastReload
        self.mode = mode
        self.lastRefreshSource = lastRefreshSource
        self.verified = verified
        self.refreshAttempt = refreshAttempt
        self.trustAnchors = trustAnchors
        self.secondaries = secondaries
    }

    /// Secondaries known to hold an older serial than the one served.
    public var secondariesBehind: Int {
        guard let served = input.localSerial else { return 0 }
        return (secondaries ?? []).filter { $0.serial.map { SerialNumber.isNewer(served, than: $0) } ?? false }.count
    }

    var secondariesJSON: String {
        guard let secondaries else { return "null" }
        return "[" + secondaries.map { s in
            let behind = input.localSerial.flatMap { served in s.serial.map { SerialNumber.isNewer(served, than: $0) } }
            return "{\"address\": \(JSON.string(s.address)), \"serial\": \(s.serial.map(String.init) ?? "null"), "
                + "\"behind\": \(behind.map { "\($0)" } ?? "null"), \"last_seen\": \(JSON.time(s.lastSeen)), "
                + "\"last_transfer\": \(JSON.time(s.lastTransfer)), \"kind\": \(s.kind.map { JSON.string($0.rawValue) } ?? "null"), "
                + "\"bytes\": \(s.bytes), \"failures\": \(s.failures)}"
        }.joined(separator: ", ") + "]"
    }

    /// The anchors in a word for `check`'s line, or what is wrong with them.
    public var trustAnchorSummary: String? {
        switch trustAnchors {
        case .success(let state): state.summary(at: input.now)
        case .failure(let error): "trust anchors unreadable: \(error)"
        case nil: nil
        }
    }

    var trustAnchorsJSON: String {
        guard let trustAnchors else { return "null" }
        let state: TrustAnchorState
        switch trustAnchors {
        case .success(let s): state = s
        case .failure(let error): return "{\"error\": \(JSON.string("\(error)"))}"
        }
        func keys(_ status: TrustAnchorState.Status) -> String {
            "[" + state.keys.filter { $0.status == status && (status != .trusted || $0.isTrusted(at: input.now)) }.map { key in
                var fields = ["\"key_tag\": \(key.keyTag)", "\"algorithm\": \(key.algorithm)"]
                switch status {
                case .trusted: fields.append("\"since\": \(JSON.time(key.since))")
                case .pending: fields += ["\"first_seen\": \(JSON.time(key.since))", "\"trusted_from\": \(JSON.time(key.trustedFrom))"]
                case .revoked: fields.append("\"revoked\": \(JSON.time(key.since))")
                }
                fields.append("\"from\": \(JSON.string(key.origin))")
                return "{" + fields.joined(separator: ", ") + "}"
            }.joined(separator: ", ") + "]"
        }
        return "{\"summary\": \(JSON.string(state.summary(at: input.now))), \"trusted\": \(keys(.trusted)), "
            + "\"pending\": \(keys(.pending)), \"revoked\": \(keys(.revoked))}"
    }

    public var httpStatus: Int {
        input.localSerial == nil ? 503 : (assessment.status <= .warning ? 200 : 503)
    }

    public var json: String {
        var upstream: [String] = []
        switch input.upstream {
        case .unknown:
            upstream = ["\"serial\": null", "\"answered\": 0"]
        case .majority(let serial, let answered):
            upstream = ["\"serial\": \(serial)", "\"answered\": \(answered)"]
        }
        upstream.append("\"asked\": \(observation?.results.count ?? 0)")
        let servers = (observation?.results ?? []).map { r in
            "{\"address\": \(JSON.string(r.upstream.description)), \"serial\": \(r.serial.map(String.init) ?? "null"), "
                + "\"error\": \(r.error.map(JSON.string) ?? "null")}"
        }
        upstream.append("\"servers\": [\(servers.joined(separator: ", "))]")
        let fields: [(String, String)] = [
            ("status", JSON.string(input.localSerial == nil ? "no data" : "\(assessment.status)")),
            ("version", JSON.string(BuildInfo.description)),
            ("reasons", "[" + assessment.reasons.map(JSON.string).joined(separator: ", ") + "]"),
            ("mode", JSON.string(mode)),
            ("local_serial", input.localSerial.map(String.init) ?? "null"),
            ("published", input.published.map(JSON.string) ?? "null"),
            ("upstream", "{" + upstream.joined(separator: ", ") + "}"),
            ("behind_seconds", "\(assessment.behindFor)"),
            ("last_check", JSON.time(observation?.time)),
            ("last_refresh", JSON.time(input.lastRefresh)),
            ("last_refresh_source", lastRefreshSource.map(JSON.string) ?? "null"),
            ("data_age_seconds", assessment.age.map(String.init) ?? "null"),
            ("last_reload", JSON.time(lastReload)),
            ("last_refresh_attempt", refreshAttempt.map(\.json) ?? "null"),
            ("soa_expire_seconds", "\(input.soaExpire)"),
            ("verified", "[" + verified.map(JSON.string).joined(separator: ", ") + "]"),
            ("signatures_expire", JSON.time(input.signaturesExpire)),
            ("signatures_expire_seconds", input.signaturesExpire.map { String($0 - input.now) } ?? "null"),
            ("trust_anchors", trustAnchorsJSON),
            ("secondaries", secondariesJSON),
            ("thresholds", "{\"warning_age_seconds\": \(thresholds.warningAge), \"critical_age_seconds\": \(thresholds.criticalAge), "
                + "\"critical_behind_seconds\": \(thresholds.criticalBehind), \"signature_warning_seconds\": \(thresholds.signatureWarning)}"),
        ]
        return "{" + fields.map { "\(JSON.string($0.0)): \($0.1)" }.joined(separator: ", ") + "}\n"
    }
}

/// One refresh run by `serve --refresh`: when, why, and how it ended (the
/// refresh command's exit status and its last line of output).
public struct RefreshAttempt: Sendable, Equatable {
    public var time: Int64
    public var reason: String
    public var exitStatus: Int32
    public var message: String

    public init(time: Int64, reason: String, exitStatus: Int32, message: String) {
        self.time = time
        self.reason = reason
        self.exitStatus = exitStatus
        self.message = message
    }

    public var succeeded: Bool { exitStatus == 0 }

    var json: String {
        "{\"time\": \(JSON.time(time)), \"reason\": \(JSON.string(reason)), \"result\": \(JSON.string(succeeded ? "ok" : "failed")), "
            + "\"exit_status\": \(exitStatus), \"message\": \(JSON.string(message))}"
    }
}

enum JSON {
    static func string(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u00" + Codecs.hexEncode([UInt8(scalar.value)], uppercase: false)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// RFC 3339 UTC, or null.
    static func time(_ t: Int64?) -> String {
        t.map { "\"\(Codecs.rfc3339Timestamp(epochSeconds: Int($0)))\"" } ?? "null"
    }
}
