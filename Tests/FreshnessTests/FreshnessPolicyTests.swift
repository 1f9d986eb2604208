import Testing
@testable import Freshness
import HealthCheck

@Suite struct FreshnessPolicyTests {
    let now: Int64 = 1_800_000_000
    let hour: Int64 = 3600

    func input(serial: UInt32? = 2_026_082_201, refreshedAgo: Int64? = 3 * 3600, upstream: [UInt32] = [2_026_082_201],
               behindSince: Int64? = nil) -> FreshnessInput {
        FreshnessInput(now: now, localSerial: serial, soaExpire: 604_800, lastRefresh: refreshedAgo.map { now - $0 },
                       upstream: .from(serials: upstream), behindSince: behindSince)
    }

    @Test func currentAndRecentIsOK() {
        let a = FreshnessPolicy.assess(input())
        #expect(a.status == .ok && a.age == 3 * hour && a.behindFor == 0 && a.reasons.isEmpty)
        // Newer than the roots (a refresh just ahead of a slow anycast node) is fine too.
        #expect(FreshnessPolicy.assess(input(upstream: [2_026_082_200])).status == .ok)
    }

    @Test func ageThresholds() {
        #expect(FreshnessPolicy.assess(input(refreshedAgo: 26 * hour + 1)).status == .warning)
        #expect(FreshnessPolicy.assess(input(refreshedAgo: 72 * hour + 1)).status == .critical)
        let expired = FreshnessPolicy.assess(input(refreshedAgo: 604_801))
        #expect(expired.status == .expired && expired.reasons.first?.contains("past the SOA expire of 7d") == true)
    }

    @Test func signatureExpiry() {
        func status(expiresIn seconds: Int64?) -> FreshnessAssessment {
            var i = input()
            i.signaturesExpire = seconds.map { now + $0 }
            return FreshnessPolicy.assess(i)
        }
        #expect(status(expiresIn: nil).status == .ok)
        #expect(status(expiresIn: 2 * 86400 + 1).status == .ok)
        let soon = status(expiresIn: 2 * 86400)
        #expect(soon.status == .warning && soon.reasons == ["DNSSEC signatures expire in 2d"])
        let passed = status(expiresIn: 0)
        #expect(passed.status == .critical && passed.reasons == ["DNSSEC signatures expired 0s ago"])
        // Critical, not expired: stripped data is still within its SOA expire, so it is still served.
        #expect(status(expiresIn: -86400).status == .critical)
        // Served signatures past their time: every answer is bogus to a validator, so the data has expired.
        var served = input()
        served.signaturesExpire = now - 60
        served.servesSignatures = true
        let expired = FreshnessPolicy.assess(served)
        #expect(expired.status == .expired && expired.reasons == ["DNSSEC signatures expired 1m ago"])
    }

    /// "ok" needs evidence: upstreams silent for longer than the warning age
    /// (a server), or in the one round it had (a one-shot check), warn.
    @Test func silentUpstreamsCannotConfirm() {
        var i = input(upstream: [])
        i.upstreamsSilentSince = now - 26 * hour + 1
        #expect(FreshnessPolicy.assess(i).status == .ok)
        i.upstreamsSilentSince = now - 26 * hour
        let silent = FreshnessPolicy.assess(i)
        #expect(silent.status == .warning
                && silent.reasons == ["cannot confirm freshness: no upstream answered since 2027-01-14T06:00:00Z"], "\(silent.reasons)")
        i.upstreamsSilentSince = now
        let oneShot = FreshnessPolicy.assess(i, thresholds: FreshnessThresholds(silentUpstreams: 0))
        #expect(oneShot.status == .warning && oneShot.reasons == ["cannot confirm freshness: no upstream answered"])
    }

    @Test func publicationDates() {
        #expect(FreshnessPolicy.publicationDate(serial: 2_023_051_100) == "2023-05-11")
        #expect(FreshnessPolicy.publicationDate(serial: 2_026_082_201) == "2026-08-22")
        #expect(FreshnessPolicy.publicationDate(serial: 2_023_023_000) == nil) // February 30th
        #expect(FreshnessPolicy.publicationDate(serial: 1) == nil)
        #expect(FreshnessPolicy.publicationDate(serial: 4_294_967_295) == nil)
    }

    @Test func behindTheRoots() {
        let fresh = FreshnessPolicy.assess(input(upstream: [2_026_082_300, 2_026_082_300, 2_026_082_201], behindSince: now - hour))
        #expect(fresh.status == .warning && fresh.behindFor == hour)
        let long = FreshnessPolicy.assess(input(upstream: [2_026_082_300], behindSince: now - 24 * hour - 1))
        #expect(long.status == .critical)
    }

    @Test func unknownUpstreamLeavesTheAgeChecks() {
        #expect(FreshnessPolicy.assess(input(upstream: [])).status == .ok)
        #expect(FreshnessPolicy.assess(input(refreshedAgo: 30 * hour, upstream: [])).status == .warning)
    }

    @Test func missingDataOrRecord() {
        #expect(FreshnessPolicy.assess(input(serial: nil, upstream: [])).status == .critical)
        #expect(FreshnessPolicy.assess(input(refreshedAgo: nil)).status == .warning)
    }

    @Test func majorityPrefersTheMostCommonThenTheNewer() {
        #expect(UpstreamView.from(serials: [5, 6, 6]) == .majority(serial: 6, answered: 3))
        #expect(UpstreamView.from(serials: [7, 7, 6]) == .majority(serial: 7, answered: 3))
        #expect(UpstreamView.from(serials: [6, 7]) == .majority(serial: 7, answered: 2))
        // RFC 1982: 1 is newer than 0xFFFFFFF0.
        #expect(UpstreamView.from(serials: [0xFFFF_FFF0, 1]) == .majority(serial: 1, answered: 2))
    }

    @Test func nagiosLines() {
        let thresholds = FreshnessThresholds()
        let ok = input()
        let check = NagiosCheck(FreshnessPolicy.assess(ok), input: ok, thresholds: thresholds)
        #expect(check.state == .ok)
        #expect(check.line == "ROOTMIRROR OK - serial 2026082201, published 2026-08-22, current, refreshed 3h ago | age=10800s;93600;259200 behind=0s;;86400")
        let behind = input(upstream: [2_026_082_300], behindSince: now - 2 * hour)
        let warn = NagiosCheck(FreshnessPolicy.assess(behind), input: behind, thresholds: thresholds)
        #expect(warn.state == .warning && warn.line.hasPrefix("ROOTMIRROR WARNING - serial 2026082201, published 2026-08-22, behind 2026082300"))
        let old = input(refreshedAgo: 700_000)
        #expect(NagiosCheck(FreshnessPolicy.assess(old), input: old, thresholds: thresholds).state == .critical)
        #expect(NagiosCheck(unknown: "cannot reach 127.0.0.1:8053").state == .unknown)
    }
}

@Suite struct DurationTests {
    @Test func readsWhatOperatorsWrite() {
        #expect(FreshnessPolicy.parseDuration("900") == 900)
        #expect(FreshnessPolicy.parseDuration("45s") == 45)
        #expect(FreshnessPolicy.parseDuration("15m") == 900)
        #expect(FreshnessPolicy.parseDuration("26h") == 93_600)
        #expect(FreshnessPolicy.parseDuration("3d") == 259_200)
        #expect(FreshnessPolicy.parseDuration("1h30m") == 5400)
        #expect(FreshnessPolicy.parseDuration("2d4h") == 187_200)
    }

    @Test func refusesTheRest() {
        for bad in ["", "0", "-5", "0s", "5x", "h", "30m1h", "1h1h", "1.5h", "99999999999999999999d", "1h 30m"] {
            #expect(FreshnessPolicy.parseDuration(bad) == nil, "\(bad)")
        }
    }

    /// What `duration` prints reads back as the same number of seconds, at its precision.
    @Test func roundTripsDuration() {
        for seconds: Int64 in [45, 900, 3600, 93_600, 187_200, 604_800] {
            #expect(FreshnessPolicy.parseDuration(FreshnessPolicy.duration(seconds)) == seconds)
        }
    }

    @Test func statusNamesReadBack() {
        for status in FreshnessStatus.allCases { #expect(FreshnessStatus(name: status.description) == status) }
        #expect(FreshnessStatus(name: "no data") == nil)
    }
}
