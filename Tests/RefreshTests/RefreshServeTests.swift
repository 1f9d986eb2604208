import Foundation
import Testing
import TestSupport

/// The point of refresh: a running `serve` picks up what it installs, by
/// itself (no restart, no signal), and answers with the new serial.
@Suite struct RefreshServeTests {
    @Test func runningServerSeesTheNewSerial() throws {
        let key = try SigningKey()
        let mirror = try Mirror()
        let target = try Target()
        try mirror.publish(zone2026a, signedBy: key)
        let first = try target.refresh(["--url", mirror.server.base, "--keyring", key.publicKey, "--retries", "0", "--quiet"] + unsignedZone)
        try #require(first.status == 0, "\(first.stderr)")

        let endpoint = Endpoint.random()
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: rootmirrorBinary)
        serve.arguments = ["serve", "-d", target.data, "--listen", endpoint.description, "--http", "off", "--check-interval", "off"]
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer {
            serve.terminate()
            serve.waitUntilExit()
        }
        var serial: String?
        for _ in 0..<100 where serial == nil {
            serial = try servedSerial(endpoint)
            if serial == nil { usleep(50_000) }
        }
        #expect(serial == "2026082200")

        try mirror.publish(zone2026b, signedBy: key)
        let second = try target.refresh(["--url", mirror.server.base, "--keyring", key.publicKey, "--retries", "0", "--quiet"] + unsignedZone)
        try #require(second.status == 0, "\(second.stderr)")
        // serve checks data.cdb once a second; allow a generous margin.
        for _ in 0..<100 where serial != "2026082201" {
            usleep(100_000)
            serial = try servedSerial(endpoint)
        }
        #expect(serial == "2026082201")
        #expect(serve.isRunning)
    }
}
