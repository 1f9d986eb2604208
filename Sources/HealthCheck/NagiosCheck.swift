import Freshness

/// The output of `rootmirror check`: one line in the Nagios plugin format
/// (also read by Icinga, Zabbix and Sensu), with perfdata, and the exit code
/// those systems map to OK, WARNING, CRITICAL, UNKNOWN.
public struct NagiosCheck: Sendable, Equatable {
    public enum State: Int32, Sendable {
        case ok = 0, warning = 1, critical = 2, unknown = 3

        var label: String {
            switch self {
            case .ok: return "OK"
            case .warning: return "WARNING"
            case .critical: return "CRITICAL"
            case .unknown: return "UNKNOWN"
            }
        }
    }

    public var state: State
    public var line: String

    /// Maps an assessment to a plugin result. An expired mirror is critical
    /// to the monitor: there is no "worse than critical" in the protocol.
    /// `mode` is what a running server does with queries, when not `serve`;
    /// `notes`, what else the line says: the keys refresh trusts and those
    /// pending, a file beside the data that cannot be read.
    public init(_ a: FreshnessAssessment, input: FreshnessInput, thresholds: FreshnessThresholds, mode: String? = nil,
                notes: [String] = []) {
        switch a.status {
        case .ok: state = .ok
        case .warning: state = .warning
        case .critical, .expired: state = .critical
        }
        var summary: String
        if let serial = input.localSerial {
            // The publication date makes old data obvious at a glance.
            summary = "serial \(serial)" + (input.published.map { ", published \($0)" } ?? "")
            switch input.upstream {
            case .unknown: summary += ", live roots unreachable"
            case .majority(let up, _): summary += input.isBehind ? ", behind \(up)" : ", current"
            }
        } else {
            summary = "no data"
        }
        if let age = a.age {
            summary += ", refreshed \(FreshnessPolicy.duration(age)) ago"
        }
        if a.status != .ok { summary += " (" + a.reasons.joined(separator: "; ") + ")" }
        if let mode, mode != "serve" { summary += ", queries: \(mode)" }
        for note in notes { summary += ", \(note)" }
        var perf = "age=\(a.age.map { "\($0)s" } ?? "U");\(thresholds.warningAge);\(thresholds.criticalAge) behind=\(a.behindFor)s;;\(thresholds.criticalBehind)"
        if let expires = input.signaturesExpire {
            // Nagios ranges `N:` alert below N: warning within the threshold, critical once passed.
            perf += " signatures=\(expires - input.now)s;\(thresholds.signatureWarning):;0:"
        }
        line = "ROOTMIRROR \(state.label) - \(summary) | \(perf)"
    }

    /// For a check that could not get an answer at all.
    public init(unknown reason: String) {
        state = .unknown
        line = "ROOTMIRROR UNKNOWN - \(reason)"
    }
}
