import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `compile` writes data.cdb under `data.cdb.tmp.PID` and renames it into
/// place: nothing of that may outlive the compile, whether it is stopped
/// by the operator or was killed before.
@Suite struct CompileTemporaryTests {
    /// A PID no process has: one of a child that has exited (and been reaped).
    func deadPID() throws -> Int32 {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        return child.processIdentifier
    }

    @Test func staleTemporariesOfDeadProcessesAreRemoved() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let dead = try deadPID(), live = getpid()
        for name in ["data.cdb.tmp.\(dead)", "data.cdb.state.tmp.\(dead)", "data.cdb.journal.tmp.\(dead)", "data.cdb.tmp.\(live)",
                     "data.cdb.keep.\(dead)"] {
            _ = scratch.write(name, [1, 2, 3])
        }
        let result = try runRootmirror(["compile", "\(sharedZones)/root-2023051100.zone.gz", "-o", scratch.file("data.cdb")])
        #expect(result.status == 0, "\(result.stderr)")
        // A live process's temporary may be a compile at work; other names are not ours.
        #expect(scratch.files == ["data.cdb", "data.cdb.journal", "data.cdb.keep.\(dead)", "data.cdb.tmp.\(live)"])
    }

    /// Stopped while data.cdb.tmp.PID exists (polled for, then signalled):
    /// the process dies of the signal, as before, and leaves nothing.
    @Test(arguments: [SIGTERM, SIGINT])
    func stoppedCompileLeavesNoTemporary(signal: Int32) throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // Big enough that writing data.cdb takes a while: 300,000 records.
        var text = ". 86400 IN SOA a.root. nstld. 1 1800 900 604800 86400\n. 518400 IN NS a.root.\na.root. 1 IN A 192.0.2.1\n"
        for i in 0..<300_000 { text += "h\(i). 60 IN TXT \"record \(i)\"\n" }
        let zone = scratch.write("big.zone", Array(text.utf8))
        let output = scratch.file("data.cdb")
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: rootmirror)
        compile.arguments = ["compile", zone, "-o", output]
        compile.standardOutput = FileHandle.nullDevice
        try compile.run()
        let temporary = "\(output).tmp.\(compile.processIdentifier)"
        while compile.isRunning && access(temporary, F_OK) != 0 { usleep(200) }
        let seen = access(temporary, F_OK) == 0
        kill(compile.processIdentifier, signal)
        compile.waitUntilExit()
        try #require(seen, "the compile finished before its temporary was seen")
        #expect(compile.terminationReason == .uncaughtSignal && compile.terminationStatus == signal)
        #expect(scratch.files == ["big.zone"])
    }
}
