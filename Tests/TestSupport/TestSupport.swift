import Foundation

/// A scratch directory removed when the test ends, pass or fail.
public final class Scratch {
    public let path: String
    /// A subdirectory goes with its parent, not on its own.
    private let owned: Bool

    public init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("rootmirror-test-\(UUID().uuidString)").path
        owned = true
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    private init(subdirectory path: String) throws {
        self.path = path
        owned = false
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { if owned { remove() } }

    /// A directory inside this one, for one daemon's files; removed with it.
    public func subdirectory(_ name: String) throws -> Scratch { try Scratch(subdirectory: file(name)) }

    /// Removes the directory now (tests that hand it to a long-lived
    /// process call this from `defer`); removing twice is harmless.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// The directory's entries, sorted: to check nothing was left behind.
    public var files: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path).sorted()) ?? [] }

    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) -> String {
        let file = "\(path)/\(name)"
        // A scratch file that cannot be written would fail its test later, far from the cause.
        precondition(FileManager.default.createFile(atPath: file, contents: Data(bytes)), "cannot write \(file)")
        return file
    }

    /// gzip from Debian's gzip, an independent implementation of the format.
    public func gzip(_ name: String, _ bytes: [UInt8]) throws -> String {
        let plain = write(name, bytes)
        try run("/bin/gzip", ["-n", "-f", plain])
        return plain + ".gz"
    }
}

public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: [UInt8]
    public var stderr: String
    public var output: String { String(decoding: stdout, as: UTF8.self) }
}

/// Runs a program to completion and captures its output.
@discardableResult
public func run(_ executable: String, _ arguments: [String], directory: String? = nil, input: [UInt8]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe(), err = Pipe(), inp = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inp
    try process.run()
    if let input { inp.fileHandleForWriting.write(Data(input)) }
    try inp.fileHandleForWriting.close()
    // Read both pipes concurrently so neither fills up and blocks the child.
    nonisolated(unsafe) var errData = Data()
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: Array(outData), stderr: String(decoding: errData, as: UTF8.self))
}

/// The checkout, found from this file (Tests/TestSupport/TestSupport.swift).
public let packageRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// `../shared/zones`, beside the checkout: real root-zone files, never copied.
public let sharedZones: String = URL(fileURLWithPath: packageRoot).deletingLastPathComponent()
    .appendingPathComponent("shared/zones").path

/// A loopback address of a test's own in 127.0.0.0/8 and a free high port,
/// so that parallel tests, other developers and anything else on this
/// machine never collide.
public struct Endpoint: CustomStringConvertible, Sendable {
    public let host: String
    public let port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public static func random() -> Endpoint {
        Endpoint(host: "127.\(Int.random(in: 1...254)).\(Int.random(in: 1...254)).\(Int.random(in: 2...254))",
                 port: UInt16.random(in: 20000...60000))
    }

    public var description: String { "\(host):\(port)" }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The `rootmirror` binary SwiftPM built beside the test bundle.
public let rootmirrorBinary: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("rootmirror").path
}()

/// `dig +short` to a server: one second, one try, so that a caller polling
/// for an answer asks again soon. Empty when there is no answer (yet): dig's
/// own lines on a timeout are not returned.
public func digShort(_ server: Endpoint, _ name: String, _ type: String) throws -> String {
    let dig = try run("/usr/bin/dig", ["+short", "+time=1", "+tries=1", "@\(server.host)", "-p", "\(server.port)", name, type])
    return dig.status == 0 ? dig.output : ""
}

/// A real Knot DNS (Debian's `knot`) serving one zone on a loopback address,
/// as a stand-in live root server. Stopped when the value goes away.
public final class KnotServer {
    public let address: String
    public let port: UInt16
    private let process = Process()
    private let scratch: Scratch

    public init(zone: String, origin: String = ".") throws {
        scratch = try Scratch()
        let endpoint = Endpoint.random()
        (address, port) = (endpoint.host, endpoint.port)
        scratch.write("zone", Array(zone.utf8))
        let config = """
            server:
                listen: \(address)@\(port)
                rundir: \(scratch.path)
                user: root:root
                udp-workers: 1
                tcp-workers: 1
                background-workers: 1
            database:
                storage: \(scratch.path)
            zone:
              - domain: "\(origin)"
                file: \(scratch.path)/zone
                zonefile-load: whole
                semantic-checks: off
                journal-content: none
            log:
              - target: stderr
                any: error
            """
        let conf = scratch.write("knot.conf", Array(config.utf8))
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/knotd")
        process.arguments = ["-c", conf]
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Ready when it answers the SOA; a few seconds at most.
        for _ in 0..<100 {
            if try !digShort(endpoint, origin, "SOA").isEmpty { return }
            usleep(50_000)
        }
        stop()
        throw KnotError.notReady
    }

    public enum KnotError: Error { case notReady }

    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }
}
