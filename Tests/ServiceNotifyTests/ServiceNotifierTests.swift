import Foundation
import ServiceNotify
import Testing
import TestSupport

/// The sd_notify datagrams, received on a socket the test listens on as
/// systemd would.
@Suite struct ServiceNotifierTests {
    @Test func messagesArriveAsSystemdReadsThem() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let listener = try NotifyListener(path: scratch.file("notify"))
        let notifier = try ServiceNotifier(socket: listener.address)
        #expect(notifier.watchdogInterval == nil)

        notifier.ready(status: "serving serial 2023051100, freshness ok")
        #expect(listener.receive() == "READY=1\nSTATUS=serving serial 2023051100, freshness ok")
        notifier.reloading()
        let reloading = try #require(listener.receive())
        let lines = reloading.split(separator: "\n")
        #expect(lines.count == 2 && lines[0] == "RELOADING=1" && lines[1].hasPrefix("MONOTONIC_USEC="), "\(reloading)")
        #expect(Int64(lines[1].dropFirst("MONOTONIC_USEC=".count)).map { $0 > 0 } == true, "\(reloading)")
        notifier.status("serving serial 2026082200, freshness warning")
        #expect(listener.receive() == "STATUS=serving serial 2026082200, freshness warning")
        notifier.watchdog()
        #expect(listener.receive() == "WATCHDOG=1")
        notifier.stopping()
        #expect(listener.receive() == "STOPPING=1")
        #expect(listener.receive() == nil)
    }

    @Test func abstractNamespace() throws {
        let listener = try NotifyListener(path: "@rootmirror-test-\(UUID().uuidString)")
        let notifier = try ServiceNotifier(socket: listener.address)
        notifier.watchdog()
        #expect(listener.receive() == "WATCHDOG=1")
    }

    /// Half of WATCHDOG_USEC, and only for the process WATCHDOG_PID names.
    @Test func watchdogInterval() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let listener = try NotifyListener(path: scratch.file("notify"))
        let me = "\(getpid())"
        #expect(try ServiceNotifier(socket: listener.address, watchdogMicroseconds: "30000000").watchdogInterval == .seconds(15))
        #expect(try ServiceNotifier(socket: listener.address, watchdogMicroseconds: "400000", watchdogPID: me).watchdogInterval
                == .milliseconds(200))
        #expect(try ServiceNotifier(socket: listener.address, watchdogMicroseconds: "400000", watchdogPID: "1").watchdogInterval == nil)
        #expect(try ServiceNotifier(socket: listener.address, watchdogMicroseconds: "0").watchdogInterval == nil)
        #expect(try ServiceNotifier(socket: listener.address, watchdogMicroseconds: "soon").watchdogInterval == nil)
    }

    @Test func unusableSocketsAreOneLineErrors() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        #expect(throws: NotifyError("NOTIFY_SOCKET=\(scratch.file("none")): No such file or directory")) {
            try ServiceNotifier(socket: scratch.file("none"))
        }
        #expect(throws: NotifyError("NOTIFY_SOCKET=run/notify: not an absolute path or @name of at most 107 bytes")) {
            try ServiceNotifier(socket: "run/notify")
        }
        let long = "/" + String(repeating: "x", count: 120)
        #expect(throws: NotifyError("NOTIFY_SOCKET=\(long): not an absolute path or @name of at most 107 bytes")) {
            try ServiceNotifier(socket: long)
        }
    }
}
