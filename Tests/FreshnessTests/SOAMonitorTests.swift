import Addressing
import DNSWire
import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Freshness

@Suite struct SOAMonitorTests {
    func zone(serial: UInt32) -> String {
        ". 86400 IN SOA a.root-servers.net. nstld.verisign-grs.com. \(serial) 1800 900 604800 86400\n. 518400 IN NS a.root-servers.net.\na.root-servers.net. 518400 IN A 198.41.0.4\n"
    }

    @Test func tracksBehindAndCatchesUp() throws {
        let roots = try [KnotServer(zone: zone(serial: 2_026_082_201)), KnotServer(zone: zone(serial: 2_026_082_201)),
                         KnotServer(zone: zone(serial: 2_026_082_200))]
        let local = Mutex<UInt32>(2_026_082_200)
        let monitor = SOAMonitor(
            configuration: .init(timeoutMilliseconds: 2000, upstreams: roots.map { upstream("\($0.address):\($0.port)") }),
            served: { SOAMonitor.ServedZone(serial: local.withLock { $0 }, apexServerAddresses: []) })

        let first = monitor.checkNow()
        #expect(first.view == .majority(serial: 2_026_082_201, answered: 3))
        let behind = monitor.input(now: first.time + 3600, localSerial: 2_026_082_200, soaExpire: 604_800, lastRefresh: first.time)
        let assessed = FreshnessPolicy.assess(behind)
        #expect(behind.isBehind && assessed.status == .warning && assessed.behindFor == 3600)

        // A reload to the new serial: current at once, and the next check clears the clock.
        local.withLock { $0 = 2_026_082_201 }
        let now = monitor.input(now: first.time + 3600, localSerial: 2_026_082_201, soaExpire: 604_800, lastRefresh: first.time)
        #expect(!now.isBehind && FreshnessPolicy.assess(now).status == .ok)
        let second = monitor.checkNow()
        #expect(monitor.input(now: 0, localSerial: 2_026_082_200, soaExpire: 1, lastRefresh: nil).behindSince == nil)
        #expect(second.view == .majority(serial: 2_026_082_201, answered: 3) && monitor.lastObservation?.time == second.time)
    }

    @Test func noUpstreamIsAReportedCondition() {
        let closed = Endpoint.random()
        let monitor = SOAMonitor(configuration: .init(timeoutMilliseconds: 200, upstreams: [upstream("\(closed.host):\(closed.port)")]),
                                       served: { nil })
        #expect(monitor.checkNow().view == .unknown)
        #expect(monitor.lastObservation?.view == .unknown)
        monitor.stop() // never started: returns at once
    }

    @Test func backgroundLoopChecksAndStops() throws {
        let root = try KnotServer(zone: zone(serial: 9))
        let monitor = SOAMonitor(configuration: .init(interval: 3600, upstreams: [upstream("\(root.address):\(root.port)")]),
                                       served: { nil })
        monitor.start()
        for _ in 0..<100 where monitor.lastObservation == nil { usleep(20_000) }
        let first = try #require(monitor.lastObservation)
        #expect(first.view == .majority(serial: 9, answered: 1))
        monitor.stop() // wakes the hour-long wait
        // One round only: the next was an hour away.
        #expect(monitor.lastObservation?.time == first.time)
    }
}
