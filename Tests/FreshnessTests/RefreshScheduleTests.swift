import Freshness
import Testing

/// When `serve --refresh` refreshes: the SOA timers, the start, the day.
@Suite struct RefreshScheduleTests {
    let now: Int64 = 1_800_000_000
    let ahead = UpstreamView.majority(serial: 2026112701, answered: 3)
    let level = UpstreamView.majority(serial: 2026112700, answered: 3)

    func reason(serial: UInt32? = 2026112700, refreshedAgo: Int64? = 60, upstream: UpstreamView, atStart: Bool = false) -> String? {
        RefreshSchedule.reason(now: now, localSerial: serial, lastRefresh: refreshedAgo.map { now - $0 }, upstream: upstream,
                               refreshInterval: 1800, atStart: atStart)
    }

    @Test func dueWhenTheUpstreamsAreAheadOnly() {
        #expect(reason(upstream: ahead) == "upstream serial 2026112701 newer than 2026112700")
        #expect(reason(upstream: level) == nil)
        #expect(reason(upstream: .unknown) == nil)
        // An upstream behind the local serial is no reason either.
        #expect(reason(serial: 2026112702, upstream: ahead) == nil)
    }

    @Test func dueAtStartWhenOlderThanOneRefreshInterval() {
        #expect(reason(refreshedAgo: 1800, upstream: level, atStart: true) == "data 30m old at start")
        #expect(reason(refreshedAgo: 1799, upstream: level, atStart: true) == nil)
        #expect(reason(refreshedAgo: 1800, upstream: level) == nil)
    }

    @Test func dueOnceADayWhateverTheUpstreamsSay() {
        #expect(reason(refreshedAgo: 86400, upstream: .unknown) == "last successful refresh 1d ago")
        #expect(reason(refreshedAgo: 86399, upstream: .unknown) == nil)
        #expect(reason(refreshedAgo: nil, upstream: level) == "no successful refresh recorded")
        #expect(reason(serial: nil, upstream: .unknown) == "no data")
    }

    @Test func waitsRefreshThenRetryAfterAFailureWithJitterAndAFloor() {
        // A jitter of a half, exact in binary: 1800 × (1 ± 0.5).
        #expect(RefreshSchedule.wait(refresh: 1800, retry: 900, failed: false, jitter: 0.5, random: { $0.lowerBound }) == 900)
        #expect(RefreshSchedule.wait(refresh: 1800, retry: 900, failed: false, jitter: 0.5, random: { $0.upperBound }) == 2700)
        #expect(RefreshSchedule.wait(refresh: 1800, retry: 900, failed: true, random: { _ in 1 }) == 900)
        #expect(RefreshSchedule.wait(refresh: 0, retry: 0, failed: false) == 1)
    }
}
