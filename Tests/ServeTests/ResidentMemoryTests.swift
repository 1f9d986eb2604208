@testable import DNSServer
import Foundation
import Testing

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

    @Test func codePagesLeaveThePageTablesAndStillRun() throws {
        let memory = ResidentMemory()
        let before = try Self.residentCodeKiB()
        memory.shedCode()
        let after = try Self.residentCodeKiB()
        // Other suites run in this process meanwhile and fault some code
        // back; most of it was last touched long before.
        #expect(after < before / 2, "code resident before \(before) KiB, after \(after) KiB")
        // The unmapped code faults back in from the page cache.
        #expect(try Self.residentCodeKiB() > 0)
    }
}
