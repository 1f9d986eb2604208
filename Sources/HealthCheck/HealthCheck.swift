import Addressing
import Answering
import AsyncHTTPClient
import CDBStore
import DNSWire
import FoundationEssentials
import Freshness
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// `rootmirror check`: the freshness verdict as a monitoring plugin. Two
/// ways to reach it, the same line either way:
/// - from a running server's `/health`, which already holds the monitor's
///   history (how long the data has been behind, what the server does);
/// - on its own, from data.cdb, its refresh state and one round of SOA
///   questions, for a host whose server is not rootmirror's (tinydns) or
///   where the endpoint is off.
public enum HealthCheck {
    /// Reads `/health` at `url` (`http://127.0.0.1:8053` or the full
    /// `/health` URL). Anything but a health document is UNKNOWN: the check
    /// could not tell, which is not the same as the data being bad.
    public static func remote(url: String, timeoutSeconds: Int64) async -> NagiosCheck {
        let target = url.hasSuffix("/health") ? url : (url.hasSuffix("/") ? url + "health" : url + "/health")
        let body: ByteBuffer
        do {
            let request = HTTPClientRequest(url: target)
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeoutSeconds))
            // 503 is how the endpoint says critical: its body is the report all the same.
            guard response.status.code == 200 || response.status.code == 503 else {
                return NagiosCheck(unknown: "\(target): HTTP \(response.status.code)")
            }
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            return NagiosCheck(unknown: "\(target): \(networkErrorText(error))")
        }
        guard let check = verdict(fromHealth: Data(body.readableBytesView)) else {
            return NagiosCheck(unknown: "\(target): not a rootmirror health document")
        }
        return check
    }

    /// The plugin line for a `/health` document, or nil when it is not one.
    public static func verdict(fromHealth document: Data) -> NagiosCheck? {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let health = try? decoder.decode(HealthDocument.self, from: document),
              let warningAge = bounded(health.thresholds.warningAgeSeconds),
              let criticalAge = bounded(health.thresholds.criticalAgeSeconds),
              let criticalBehind = bounded(health.thresholds.criticalBehindSeconds) else { return nil }
        let thresholds = FreshnessThresholds(warningAge: warningAge, criticalAge: criticalAge, criticalBehind: criticalBehind,
                                             signatureWarning: bounded(health.thresholds.signatureWarningSeconds)
                                                 ?? FreshnessThresholds().signatureWarning)
        var view = UpstreamView.unknown
        if let serial = uint32(health.upstream?.serial), let answered = bounded(health.upstream?.answered) {
            view = .majority(serial: serial, answered: Int(answered))
        }
        // Times relative to the document's moment (now 0): what is left is what the perfdata shows.
        let input = FreshnessInput(now: 0, localSerial: uint32(health.localSerial), soaExpire: uint32(health.soaExpireSeconds) ?? 0,
                                   lastRefresh: nil, upstream: view, behindSince: nil,
                                   signaturesExpire: bounded(health.signaturesExpireSeconds))
        // "no data" has no severity of its own: it is critical.
        let status = FreshnessStatus(name: health.status) ?? .critical
        let assessment = FreshnessAssessment(status: status, age: bounded(health.dataAgeSeconds),
                                             behindFor: bounded(health.behindSeconds) ?? 0,
                                             reasons: health.reasons ?? [])
        let anchors = health.trustAnchors
        let anchorSummary = anchors?.summary ?? anchors?.error.map { "trust anchors unreadable: \($0)" }
        return NagiosCheck(assessment, input: input, thresholds: thresholds, mode: health.mode,
                           notes: anchorSummary.map { [$0] } ?? [])
    }

    /// What the verdict reads of `/health` (snake_case there); the rest of
    /// the document is for people and dashboards. Decoded with
    /// FoundationEssentials' JSONDecoder: JSONSerialization would link all of
    /// Foundation and its 34 MB of ICU data.
    private struct HealthDocument: Decodable {
        struct Thresholds: Decodable {
            var warningAgeSeconds: Int64?
            var criticalAgeSeconds: Int64?
            var criticalBehindSeconds: Int64?
            var signatureWarningSeconds: Int64?
        }
        struct Upstream: Decodable {
            var serial: Int64?
            var answered: Int64?
        }
        struct TrustAnchors: Decodable {
            var summary: String?
            var error: String?
        }
        var status: String
        var thresholds: Thresholds
        var upstream: Upstream?
        var localSerial: Int64?
        var soaExpireSeconds: Int64?
        var signaturesExpireSeconds: Int64?
        var dataAgeSeconds: Int64?
        var behindSeconds: Int64?
        var reasons: [String]?
        var trustAnchors: TrustAnchors?
        var mode: String?
    }

    /// The verdict from `data` itself: its serial and expire, the last
    /// refresh recorded beside it, and what `upstreams` (or, when empty, the
    /// zone's own apex name servers) answer now. A single look cannot say how
    /// long the data has been behind, so behind is a warning here until the
    /// age thresholds say more.
    public static func standalone(data: String, upstreams: [IPEndpoint], thresholds: FreshnessThresholds,
                                  timeoutMilliseconds: Int) -> NagiosCheck {
        // The summary, not the index: a serial and the apex glue need no reply templates.
        let zone: ZoneSummary
        do {
            zone = try ZoneSummary(records: DataStore.load(path: data))
        } catch {
            let input = FreshnessInput(now: Int64(time(nil)), localSerial: nil, soaExpire: 0, lastRefresh: nil,
                                       upstream: .unknown, behindSince: nil)
            var assessment = FreshnessPolicy.assess(input, thresholds: thresholds)
            assessment.reasons = ["cannot load \(error)"]
            return NagiosCheck(assessment, input: input, thresholds: thresholds)
        }
        // The server's own monitor, asked once: the same choice of upstreams
        // and the same reading of their answers.
        let monitor = SOAMonitor(
            configuration: .init(interval: nil, timeoutMilliseconds: timeoutMilliseconds, upstreams: upstreams),
            served: { .init(serial: zone.soa.serial, apexServerAddresses: zone.apexServerAddresses) })
        let now = monitor.checkNow().time
        // The age as serve would judge it on loading this file: the state's
        // confirmation of this serial, else the file's time, never later than now.
        var notes: [String] = []
        var state = RefreshState()
        do {
            state = try RefreshState.read(forData: data)
        } catch {
            notes.append("refresh state unreadable: \(error)")
        }
        var st = stat()
        let written: Int64? = stat(data, &st) == 0 ? UTCTime.checked(Int64(st.st_mtim.tv_sec)) : nil
        let confirmed = (state.confirmation(of: zone.soa.serial) ?? written).map { min($0, now) }
        let input = monitor.input(now: now, localSerial: zone.soa.serial, soaExpire: zone.soa.expire, lastRefresh: confirmed,
                                  signaturesExpire: zone.signaturesExpire.map(Int64.init), servesSignatures: zone.signaturesExpire != nil)
        // One round is all a one-shot check has: no answer, no confirmation.
        var thresholds = thresholds
        thresholds.silentUpstreams = 0
        do {
            if let anchors = try TrustAnchorState.read(forData: data) { notes.append(anchors.summary(at: now)) }
        } catch {
            notes.append("trust anchors unreadable: \(error)")
        }
        return NagiosCheck(FreshnessPolicy.assess(input, thresholds: thresholds), input: input, thresholds: thresholds,
                           notes: notes)
    }

    /// JSON numbers arrive as NSNumber (or Int); null and absent are nil,
    /// and so is a number of seconds no span of `UTCTime.representable`
    /// reaches: whatever the document says, the check's own arithmetic
    /// on it (the perfdata's differences) cannot overflow.
    /// A number of seconds a time can be built from, or nil.
    private static func bounded(_ value: Int64?) -> Int64? {
        value.flatMap { $0.magnitude <= UTCTime.representable.upperBound.magnitude ? $0 : nil }
    }

    private static func uint32(_ value: Int64?) -> UInt32? {
        value.flatMap { UInt32(exactly: $0) }
    }
}
