@testable import DNSServer
import Foundation
import Testing
import TestSupport

/// `serve`'s periodic hand-back of code pages, tried on this test process:
/// the pages leave the page tables, and the code they hold still runs.
@Suite("resident memory")
struct ResidentMemoryTests {
    /// Resident KiB of this process's executable mappings, from /proc/self/smaps.
    static func residentCodeKiB() throws -> Int {
        var total = 0
        var inCode = false
        for line in try String(contentsOfFile: "/proc/self/smaps", encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 2, first.first!.isHexDigit {
                inCode = fields.count >= 6 && fields[1].contains("x") && fields[5].hasPrefix("/")
            } else if inCode, fields.first == "Rss:", let kib = Int(fields[1]) {
                total += kib
            }
        }
        return total
    }

    /// Set in the test process that measures; see below.
    static let childVariable = "ROOTMIRROR_RESIDENT_MEMORY_CHILD"

    /// Measured in a test process of its own, running this suite alone: in
    /// the shared one, other suites' threads fault code back in between the
    /// two readings, so a threshold there says little either way.
    @Test func codePagesLeaveThePageTablesAndStillRun() throws {
        guard ProcessInfo.processInfo.environment[Self.childVariable] == "yes" else {
            let runner = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let child = try run("/usr/bin/env", ["\(Self.childVariable)=yes", runner, "--testing-library", "swift-testing",
                                                 "--filter", "ResidentMemoryTests"])
            #expect(child.status == 0 && (child.output + child.stderr).contains("1 test in 1 suite passed"), "\(child.output)\(child.stderr)")
            return
        }
        let memory = ResidentMemory()
        let before = try Self.residentCodeKiB()
        memory.shedCode()
        let after = try Self.residentCodeKiB()
        // Only the reading itself runs in between: what it faults back is a
        // few pages of String and smaps parsing.
        #expect(after < before / 4, "code resident before \(before) KiB, after \(after) KiB")
        // The unmapped code faults back in from the page cache.
        #expect(try Self.residentCodeKiB() > 0)
    }
}
