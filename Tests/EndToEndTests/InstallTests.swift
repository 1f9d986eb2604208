import Foundation
import Testing
import TestSupport

/// `make install` into a scratch root (DESTDIR), twice, and the systemd
/// units checked by systemd itself.
@Suite struct InstallTests {
    func install(into root: String) throws -> ProcessResult {
        try run("/usr/bin/make", ["-C", packageRoot, "install", "DESTDIR=\(root)", "BINARY=\(rootmirrorBinary)"])
    }

    /// Every path below `root` with its mode, size and modification time: two
    /// equal snapshots mean nothing was touched in between.
    func snapshot(_ root: String) throws -> [String: String] {
        var entries: [String: String] = [:]
        for case let path as String in FileManager.default.enumerator(atPath: root)! {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(root)/\(path)")
            let mode = String((attributes[.posixPermissions] as! NSNumber).intValue, radix: 8)
            let kind = attributes[.type] as! FileAttributeType == .typeDirectory ? "d" : "f"
            let modified = (attributes[.modificationDate] as! Date).timeIntervalSince1970
            entries[path] = "\(kind) \(mode) \(attributes[.size]!) \(modified)"
        }
        return entries
    }

    @Test func installsTheTreeAndASecondRunChangesNothing() throws {
        let root = try Scratch()
        defer { root.remove() }
        let first = try install(into: root.path)
        try #require(first.status == 0, "\(first.stderr)")

        let tree = try snapshot(root.path).mapValues { String($0.split(separator: " ").prefix(2).joined(separator: " ")) }
        let expected: [String: String] = [
            "usr/local/bin/rootmirror": "f 755",
            "usr/local/share/rootmirror/internic-registry-admin.asc": "f 644",
            "usr/local/share/rootmirror/root-anchors.xml": "f 644",
            "usr/local/share/rootmirror/cron.d/rootmirror": "f 644",
            "usr/local/lib/systemd/system/rootmirror.service": "f 644",
            "usr/local/lib/systemd/system/rootmirror-refresh.service": "f 644",
            "usr/local/lib/systemd/system/rootmirror-refresh.timer": "f 644",
            "etc/sv/rootmirror/run": "f 755",
            "etc/sv/rootmirror/log/run": "f 755",
            "etc/sv/rootmirror/log/main": "d 755",
            "etc/sv/rootmirror/env/ROOT": "f 644",
            "etc/sv/rootmirror/env/IP": "f 644",
            "etc/sv/rootmirror/env/USER": "f 644",
            "etc/sv/rootmirror/env/DATALIMIT": "f 644",
            "var/lib/rootmirror": "d 755",
        ]
        for (path, kindAndMode) in expected { #expect(tree[path] == kindAndMode, "\(path)") }
        let files = tree.filter { $0.value.hasPrefix("f") }.keys
        #expect(Set(files) == Set(expected.filter { $0.value.hasPrefix("f") }.keys), "unexpected files: \(files.sorted())")
        // The binary as built, stripped of its symbols, debug info and RUNPATH.
        let installed = root.file("usr/local/bin/rootmirror")
        let sections = try run("/usr/bin/readelf", ["-S", "-d", installed]).output
        for gone in [".symtab", ".debug_info", "RUNPATH", "RPATH"] { #expect(!sections.contains(gone), "\(gone) left in the installed binary") }
        #expect(try PackageTests.runPackaged(installed, ["--version"]).output == (try run(rootmirrorBinary, ["--version"]).output))
        #expect(FileManager.default.contentsEqual(atPath: root.file("usr/local/share/rootmirror/internic-registry-admin.asc"),
                                                  andPath: packageRoot + "/zones/internic-registry-admin.asc"))
        #expect(FileManager.default.contentsEqual(atPath: root.file("usr/local/share/rootmirror/root-anchors.xml"),
                                                  andPath: packageRoot + "/zones/root-anchors.xml"))
        #expect(try String(contentsOfFile: root.file("etc/sv/rootmirror/env/ROOT"), encoding: .utf8) == "/var/lib/rootmirror\n")

        // The operator's data and settings, which a second run must keep.
        let data = root.write("var/lib/rootmirror/data.cdb", Array("not really a cdb".utf8))
        let ip = root.write("etc/sv/rootmirror/env/IP", Array("127.53.0.1\n".utf8))
        let before = try snapshot(root.path)
        let second = try install(into: root.path)
        try #require(second.status == 0, "\(second.stderr)")
        #expect(try snapshot(root.path) == before)
        #expect(try String(contentsOfFile: data, encoding: .utf8) == "not really a cdb")
        #expect(try String(contentsOfFile: ip, encoding: .utf8) == "127.53.0.1\n")
    }

    /// `systemd-analyze verify` on the units, with ExecStart pointed at the
    /// built binary (it checks that the program exists) and the man page
    /// their Documentation= names on MANPATH; it exits 0 even on bad
    /// settings, so any complaint on stderr fails the test.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "needs systemd-analyze"))
    func systemdUnitsVerify() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let units = ["rootmirror.service", "rootmirror-refresh.service", "rootmirror-refresh.timer"]
        for unit in units {
            let text = try String(contentsOfFile: "\(packageRoot)/service/systemd/\(unit)", encoding: .utf8)
            scratch.write(unit, Array(text.replacingOccurrences(of: "/usr/local/bin/rootmirror", with: rootmirrorBinary).utf8))
        }
        // Documentation=man:rootmirror(8) must resolve: the page, as installed.
        try FileManager.default.createDirectory(atPath: scratch.file("man/man8"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(packageRoot)/service/man/rootmirror.8", toPath: scratch.file("man/man8/rootmirror.8"))
        let verify = try run("/usr/bin/env", ["MANPATH=\(scratch.file("man"))", "/usr/bin/systemd-analyze", "verify"] + units.map(scratch.file))
        #expect(verify.status == 0 && verify.stderr.isEmpty, "\(verify.stderr)")
    }
}
