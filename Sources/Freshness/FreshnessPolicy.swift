import DNSWire

/// How stale a local root may get before an operator is told. The defaults
/// suit the root zone: published about twice a day, SOA expire 7 days.
public struct FreshnessThresholds: Sendable, Equatable {
    /// Last successful refresh older than this: warning (a nightly job that
    /// missed one run by a couple of hours still passes).
    public var warningAge: Int64 = 26 * 3600
    /// Last successful refresh older than this: critical.
    public var criticalAge: Int64 = 72 * 3600
    /// Behind the live roots for longer than this: critical.
    public var criticalBehind: Int64 = 24 * 3600
    /// The earliest served RRSIG expires within this: warning (the root's
    /// signatures last about two weeks and are renewed twice a day, so two
    /// days left means several refreshes have failed or were not installed).
    public var signatureWarning: Int64 = 2 * 86400
    /// No upstream has answered for this long: warning, whatever the age
    /// says ("ok" needs evidence that the data is current). `warningAge`
    /// for a server; 0 for a one-shot check, which has one round to go on.
    public var silentUpstreams: Int64

    public init(warningAge: Int64 = 26 * 3600, criticalAge: Int64 = 72 * 3600, criticalBehind: Int64 = 24 * 3600,
                signatureWarning: Int64 = 2 * 86400, silentUpstreams: Int64? = nil) {
        self.warningAge = warningAge
        self.criticalAge = criticalAge
        self.criticalBehind = criticalBehind
        self.signatureWarning = signatureWarning
        self.silentUpstreams = silentUpstreams ?? warningAge
    }
}

/// Ordered by severity, so the worst of several findings is the maximum.
public enum FreshnessStatus: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case ok, warning, critical, expired

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// Reads back what `description` writes (the `/health` document's status).
    public init?(name: String) {
        guard let status = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = status
    }

    public var description: String {
        switch self {
        case .ok: return "ok"
        case .warning: return "warning"
        case .critical: return "critical"
        case .expired: return "expired"
        }
    }
}

/// What the live roots said at the last SOA check.
public enum UpstreamView: Sendable, Equatable {
    /// No upstream answered: the age checks alone decide.
    case unknown
    /// The serial most upstreams reported, and how many answered.
    case majority(serial: UInt32, answered: Int)

    /// The serial a majority (the most common one) of `serials` reported.
    public static func from(serials: [UInt32]) -> UpstreamView {
        guard !serials.isEmpty else { return .unknown }
        var counts: [UInt32: Int] = [:]
        for s in serials { counts[s, default: 0] += 1 }
        // Ties go to the newer serial: a roll-out in progress, not a lag.
        let best = counts.max { a, b in a.value != b.value ? a.value < b.value : SerialNumber.isNewer(b.key, than: a.key) }!
        return .majority(serial: best.key, answered: serials.count)
    }

    /// Whether the majority's serial is newer (RFC 1982) than `local`.
    public func isAhead(of local: UInt32?) -> Bool {
        guard case .majority(let serial, _) = self, let local else { return false }
        return SerialNumber.isNewer(serial, than: local)
    }
}

/// Everything the verdict depends on, as plain values (times in seconds
/// since the epoch), so that the policy is a pure function and testable.
public struct FreshnessInput: Sendable {
    public var now: Int64
    /// The serial being served; nil when there is no data at all.
    public var localSerial: UInt32?
    /// The served zone's SOA EXPIRE (RFC 1035): past it the data must not be served as is.
    public var soaExpire: UInt32
    /// When `refresh` last succeeded (including a run that found nothing new).
    public var lastRefresh: Int64?
    public var upstream: UpstreamView
    /// Since when the local serial has been seen behind the upstream majority.
    public var behindSince: Int64?
    /// When the earliest RRSIG of the served data expires, or of the zone
    /// it was stripped from; nil when unknown.
    public var signaturesExpire: Int64?
    /// The served data carries those RRSIGs: past them a validating
    /// resolver rejects every answer, so the data has expired.
    public var servesSignatures: Bool
    /// Since when no upstream has answered the SOA checks; nil when the
    /// last round had an answer, or no check is made.
    public var upstreamsSilentSince: Int64?

    public init(now: Int64, localSerial: UInt32?, soaExpire: UInt32, lastRefresh: Int64?, upstream: UpstreamView, behindSince: Int64?,
                signaturesExpire: Int64? = nil, servesSignatures: Bool = false, upstreamsSilentSince: Int64? = nil) {
        self.now = now
        self.localSerial = localSerial
        self.soaExpire = soaExpire
        self.lastRefresh = lastRefresh
        self.upstream = upstream
        self.behindSince = behindSince
        self.signaturesExpire = signaturesExpire
        self.servesSignatures = servesSignatures
        self.upstreamsSilentSince = upstreamsSilentSince
    }

    /// `2023-05-11` for a serial in the root's YYYYMMDDNN form, nil otherwise.
    public var published: String? { localSerial.flatMap(FreshnessPolicy.publicationDate) }

    /// Whether the served serial is older (RFC 1982) than the upstream majority.
    public var isBehind: Bool { upstream.isAhead(of: localSerial) }
}

public struct FreshnessAssessment: Sendable, Equatable {
    public var status: FreshnessStatus
    /// Seconds since the last successful refresh, when one is recorded.
    public var age: Int64?
    /// Seconds the served serial has been behind the upstream majority (0 when current).
    public var behindFor: Int64
    /// Why the status is not ok, most severe first; empty when ok.
    public var reasons: [String]

    public init(status: FreshnessStatus, age: Int64?, behindFor: Int64, reasons: [String]) {
        self.status = status
        self.age = age
        self.behindFor = behindFor
        self.reasons = reasons
    }
}

public enum FreshnessPolicy {
    public static func assess(_ input: FreshnessInput, thresholds: FreshnessThresholds = FreshnessThresholds()) -> FreshnessAssessment {
        var findings: [(FreshnessStatus, String)] = []
        let age = input.lastRefresh.map { max(0, input.now - $0) }
        let behindFor = input.isBehind ? max(0, input.now - (input.behindSince ?? input.now)) : 0

        if input.localSerial == nil {
            findings.append((.critical, "no data loaded"))
        }
        if let age {
            if age > Int64(input.soaExpire) {
                findings.append((.expired, "no successful refresh for \(duration(age)), past the SOA expire of \(duration(Int64(input.soaExpire)))"))
            } else if age > thresholds.criticalAge {
                findings.append((.critical, "last successful refresh \(duration(age)) ago"))
            } else if age > thresholds.warningAge {
                findings.append((.warning, "last successful refresh \(duration(age)) ago"))
            }
        } else if input.localSerial != nil {
            findings.append((.warning, "no successful refresh recorded"))
        }
        if input.isBehind, case .majority(let serial, _) = input.upstream {
            let status: FreshnessStatus = behindFor > thresholds.criticalBehind ? .critical : .warning
            findings.append((status, "serial \(input.localSerial!) behind the live roots' \(serial) for \(duration(behindFor))"))
        }
        // A validating resolver treats data whose signatures expired as
        // bogus, however recent its serial: it fails every lookup.
        if let since = input.upstreamsSilentSince, input.localSerial != nil, input.now - since >= thresholds.silentUpstreams {
            findings.append((.warning, input.now > since
                ? "cannot confirm freshness: no upstream answered since \(Codecs.rfc3339Timestamp(epochSeconds: Int(since)))"
                : "cannot confirm freshness: no upstream answered"))
        }
        if let expires = input.signaturesExpire {
            if expires <= input.now {
                findings.append((input.servesSignatures ? .expired : .critical,
                                 "DNSSEC signatures expired \(duration(input.now - expires)) ago"))
            } else if expires - input.now <= thresholds.signatureWarning {
                findings.append((.warning, "DNSSEC signatures expire in \(duration(expires - input.now))"))
            }
        }
        findings.sort { $0.0 > $1.0 }
        return FreshnessAssessment(status: findings.first?.0 ?? .ok, age: age, behindFor: behindFor, reasons: findings.map(\.1))
    }

    /// The date a serial in the root's YYYYMMDDNN form was published, or
    /// nil for a serial that is not such a date.
    public static func publicationDate(serial: UInt32) -> String? {
        let day = Int(serial / 100 % 100), month = Int(serial / 10_000 % 100), year = Int(serial / 1_000_000)
        guard (1990...2100).contains(year), (1...12).contains(month), (1...31).contains(day) else { return nil }
        let epoch = Codecs.epochSeconds(year: year, month: month, day: day, hour: 0, minute: 0, second: 0)
        // 2023-02-30 is not a date: it would come back as March.
        let text = String(Codecs.rfc3339Timestamp(epochSeconds: epoch).prefix(10))
        return text.hasSuffix("-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)") ? text : nil
    }

    /// `3h`, `2d4h`, `45m`, `12s`: short, for one-line messages.
    public static func duration(_ seconds: Int64) -> String {
        let d = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60
        if d > 0 { return h > 0 ? "\(d)d\(h)h" : "\(d)d" }
        if h > 0 { return "\(h)h" }
        if m > 0 { return "\(m)m" }
        return "\(seconds)s"
    }

    /// Reads what `duration` writes, and plain seconds: `900`, `45s`,
    /// `15m`, `26h`, `3d`, `2d4h`. Nil for anything else, or zero.
    public static func parseDuration(_ text: String) -> Int64? {
        if let seconds = Int64(text) { return seconds > 0 ? seconds : nil }
        var total: Int64 = 0
        var number: Int64?
        var lastUnit: Int64 = .max
        for c in text {
            if let digit = c.wholeNumberValue, c.isASCII {
                let (product, over) = (number ?? 0).multipliedReportingOverflow(by: 10)
                guard !over else { return nil }
                number = product + Int64(digit)
                continue
            }
            let unit: Int64
            switch c {
            case "d": unit = 86400
            case "h": unit = 3600
            case "m": unit = 60
            case "s": unit = 1
            default: return nil
            }
            // Units in falling order, each once: `1h30m`, not `30m1h` or `1h1h`.
            guard let n = number, unit < lastUnit else { return nil }
            let (part, over) = n.multipliedReportingOverflow(by: unit)
            guard !over else { return nil }
            total += part
            number = nil
            lastUnit = unit
        }
        guard number == nil, total > 0 else { return nil }
        return total
    }
}
