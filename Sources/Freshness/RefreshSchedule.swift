/// When `serve --refresh` runs a refresh of its own: the SOA timers of RFC
/// 1035 (§3.3.13) applied to a mirror. Every SOA REFRESH seconds (30
/// minutes for the root) the upstreams are asked for their serial, and a
/// newer one is fetched; after a failed refresh the next try comes after
/// SOA RETRY instead. Plain values in, a decision out, so it is testable
/// without clocks or servers.
public enum RefreshSchedule {
    /// However quiet the upstreams are (unreachable, or a SOA check that
    /// lags the source), a day never passes without a refresh: the
    /// conditional download or the transfer's SOA makes it cheap when
    /// nothing changed.
    public static let daily: Int64 = 86400

    /// Why a refresh is due now, or nil when none is. `atStart`: the first
    /// look after the server started, when data older than one refresh
    /// interval is refreshed without waiting for the upstreams to say so.
    public static func reason(now: Int64, localSerial: UInt32?, lastRefresh: Int64?, upstream: UpstreamView,
                              refreshInterval: UInt32, atStart: Bool) -> String? {
        guard let localSerial else { return "no data" }
        guard let lastRefresh else { return "no successful refresh recorded" }
        let age = max(0, now - lastRefresh)
        if age >= daily { return "last successful refresh \(FreshnessPolicy.duration(age)) ago" }
        if atStart && age >= Int64(refreshInterval) { return "data \(FreshnessPolicy.duration(age)) old at start" }
        if upstream.isAhead(of: localSerial), case .majority(let serial, _) = upstream {
            return "upstream serial \(serial) newer than \(localSerial)"
        }
        return nil
    }

    /// Seconds until the next look: SOA REFRESH, or SOA RETRY after a
    /// failed refresh, each × (1 ± `jitter`) so that a fleet started
    /// together does not ask in step; never under a second (a zone whose
    /// timers are zero must not spin).
    public static func wait(refresh: UInt32, retry: UInt32, failed: Bool, jitter: Double = 0.1,
                            random: (ClosedRange<Double>) -> Double = { Double.random(in: $0) }) -> Double {
        let base = Double(failed ? retry : refresh)
        return max(1, base * random((1 - jitter)...(1 + jitter)))
    }
}
