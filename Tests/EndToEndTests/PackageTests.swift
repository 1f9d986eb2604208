import Foundation
import Testing
import TestSupport

/// `make deb`: the package's contents, lintian's verdict, and its life on a
/// host: install, upgrade (same package, version bumped), remove, purge. In
/// a scratch root (`dpkg --instdir`, maintainer scripts run with DPKG_ROOT),
/// and with `ROOTMIRROR_TEST_HOST_INSTALL=yes` for real, on the machine CI gives us.
/// Relative to the checkout, as `make deb`'s default (.build/deb) is: the
/// quick start's command, not only an absolute path, must work.
private let debDirectory = ".build/deb-test-\(getpid())"

@Suite(.serialized) struct PackageTests {
    /// The version the test binary reports, which `make deb` uses by default.
    static let version: String = {
        let output = (try? run(rootmirrorBinary, ["--version"]).output) ?? ""
        return String(output.prefix(while: { $0 != " " && $0 != "\n" }))
    }()

    /// One package built for the whole suite, and its upgrade; removed
    /// when the test process exits.
    static let packages: Result<(current: String, next: String), TestFailure> = {
        do {
            atexit { try? FileManager.default.removeItem(atPath: "\(packageRoot)/\(debDirectory)") }
            return .success((try makeDeb(version: nil, into: debDirectory), try makeDeb(version: version + "+1", into: debDirectory)))
        } catch {
            return .failure(error as? TestFailure ?? TestFailure("\(error)"))
        }
    }()

    /// The packaged binary has no RUNPATH (Debian allows none); a test
    /// binary built without -static-stdlib finds the Swift runtime only
    /// through its own, so the packaged copy is run with it as the path.
    static let runtimeLibraryPath: String = {
        let dynamic = (try? run("/usr/bin/readelf", ["-d", rootmirrorBinary]).output) ?? ""
        guard let line = dynamic.split(separator: "\n").first(where: { $0.contains("Library runpath: [") }),
              let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]") else { return "" }
        let directory = URL(fileURLWithPath: rootmirrorBinary).deletingLastPathComponent().path
        return line[line.index(after: open)..<close].replacingOccurrences(of: "$ORIGIN", with: directory)
    }()

    static func runPackaged(_ binary: String, _ arguments: [String]) throws -> ProcessResult {
        try run("/usr/bin/env", ["LD_LIBRARY_PATH=\(runtimeLibraryPath)", binary] + arguments)
    }

    static func makeDeb(version: String?, into directory: String) throws -> String {
        let arguments = ["DPKG_DEB_COMPRESSOR_TYPE=gzip", "/usr/bin/make", "-C", packageRoot, "deb",
                         "BINARY=\(rootmirrorBinary)", "DEBDIR=\(directory)"] + (version.map { ["DEB_VERSION=\($0)"] } ?? [])
        let make = try run("/usr/bin/env", arguments)
        guard make.status == 0 else { throw TestFailure("make deb: \(make.stderr)") }
        let deb = "\(packageRoot)/\(directory)/rootmirror_\(version ?? Self.version)_amd64.deb"
        guard FileManager.default.fileExists(atPath: deb) else { throw TestFailure("no \(deb): \(make.output)") }
        return deb
    }

    @Test func contentsAndControlFields() throws {
        let deb = try Self.packages.get().current
        let listing = try run("/usr/bin/dpkg-deb", ["--contents", deb])
        try #require(listing.status == 0, "\(listing.stderr)")
        let entries = listing.output.split(separator: "\n").map { line -> (String, String) in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            return (String(fields[0]) + " " + String(fields[1]), String(fields.last!.dropFirst(2)))
        }
        let files = Dictionary(entries.map { ($0.1, $0.0) }, uniquingKeysWith: { a, _ in a })
        let expected: [String: String] = [
            "usr/bin/rootmirror": "-rwxr-xr-x root/root",
            "usr/share/man/man8/rootmirror.8.gz": "-rw-r--r-- root/root",
            "usr/share/bash-completion/completions/rootmirror": "-rw-r--r-- root/root",
            "usr/share/zsh/vendor-completions/_rootmirror": "-rw-r--r-- root/root",
            "usr/share/fish/vendor_completions.d/rootmirror.fish": "-rw-r--r-- root/root",
            "usr/share/rootmirror/internic-registry-admin.asc": "-rw-r--r-- root/root",
            "lib/systemd/system/rootmirror.service": "-rw-r--r-- root/root",
            "lib/systemd/system/rootmirror-refresh.service": "-rw-r--r-- root/root",
            "lib/systemd/system/rootmirror-refresh.timer": "-rw-r--r-- root/root",
            "usr/share/doc/rootmirror/copyright": "-rw-r--r-- root/root",
            "usr/share/doc/rootmirror/changelog.gz": "-rw-r--r-- root/root",
            "usr/share/lintian/overrides/rootmirror": "-rw-r--r-- root/root",
            "usr/share/doc/rootmirror/README.md.gz": "-rw-r--r-- root/root",
            "usr/share/doc/rootmirror/examples/cron.d/rootmirror": "-rw-r--r-- root/root",
            "usr/share/doc/rootmirror/examples/daemontools/rootmirror/run": "-rwxr-xr-x root/root",
            "usr/share/doc/rootmirror/examples/daemontools/rootmirror/log/run": "-rwxr-xr-x root/root",
            "usr/share/doc/rootmirror/examples/daemontools/rootmirror/env/IP": "-rw-r--r-- root/root",
            "usr/share/doc/rootmirror/examples/prometheus/rootmirror.rules.yml": "-rw-r--r-- root/root",
        ]
        for (path, modeAndOwner) in expected { #expect(files[path] == modeAndOwner, "\(path): \(files[path] ?? "missing")") }
        let anchors = "usr/share/rootmirror/root-anchors.xml"
        #expect((files[anchors] != nil) == FileManager.default.fileExists(atPath: "\(packageRoot)/zones/root-anchors.xml"))
        // Nothing under /etc: the package activates nothing and ships no settings to keep.
        #expect(files.keys.filter { $0.hasPrefix("etc/") }.isEmpty, "\(files.keys.sorted())")

        let field = { (name: String) in try run("/usr/bin/dpkg-deb", ["--field", deb, name]).output.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(try field("Package") == "rootmirror")
        #expect(try field("Version") == Self.version)
        #expect(try field("Architecture") == "amd64")
        let depends = try field("Depends")
        for library in ["libc6", "libcdb1", "libgpgme11", "zlib1g", "passwd"] {
            #expect(depends.contains(library), "\(depends)")
        }
        // The binary's RELR relocations need glibc 2.36, which no symbol says.
        #expect(depends.contains("libc6 (>= 2.36)"), "\(depends)")

        // The units name the packaged binary.
        let unit = try run("/usr/bin/dpkg-deb", ["--fsys-tarfile", deb]).stdout
        let extracted = try Scratch()
        defer { extracted.remove() }
        let tar = extracted.write("data.tar", unit)
        try #require(try run("/bin/tar", ["-xf", tar, "-C", extracted.path]).status == 0)
        let service = try String(contentsOfFile: extracted.file("lib/systemd/system/rootmirror.service"), encoding: .utf8)
        #expect(service.contains("ExecStart=/usr/bin/rootmirror serve ") && !service.contains("/usr/local"))
        let bash = try String(contentsOfFile: extracted.file("usr/share/bash-completion/completions/rootmirror"), encoding: .utf8)
        #expect(bash.contains("refresh") && bash.contains("--keyring"), "\(bash.prefix(300))")
        let packaged = try Self.runPackaged(extracted.file("usr/bin/rootmirror"), ["--version"])
        #expect(packaged.output == (try run(rootmirrorBinary, ["--version"]).output))
        // Installed, -d defaults to the package's data directory; from a build tree, to the current one.
        for command in ["query", "serve", "refresh"] {
            // Help wraps its lines: compared with the line breaks taken out.
            let words = { (text: String) in text.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
            let help = words(try Self.runPackaged(extracted.file("usr/bin/rootmirror"), [command, "--help"]).output)
            #expect(help.contains("(default: /var/lib/rootmirror/data.cdb)"), "\(command): \(help)")
            #expect(words(try run(rootmirrorBinary, [command, "--help"]).output).contains("(default: data.cdb)"), "\(command)")
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/lintian"), "needs lintian"))
    func lintianReportsNoErrors() throws {
        let deb = try Self.packages.get().current
        let lintian = try run("/usr/bin/lintian", ["--fail-on", "error", deb])
        let errors = lintian.output.split(separator: "\n").filter { $0.hasPrefix("E: ") }
        #expect(lintian.status == 0 && errors.isEmpty, "\(lintian.output)\(lintian.stderr)")
    }

    /// Where the package goes: a scratch root, or this machine.
    struct Host {
        let root: String
        let dpkgOptions: [String]

        func path(_ p: String) -> String { root + p }

        func dpkg(_ arguments: [String]) throws -> ProcessResult {
            try run("/usr/bin/dpkg", dpkgOptions + arguments)
        }

        /// `dpkg-query`'s status and version of the package.
        func state() throws -> String {
            let admin = dpkgOptions.first { $0.hasPrefix("--admindir=") }.map { [$0] } ?? []
            return try run("/usr/bin/dpkg-query", admin + ["-W", "-f", "${db:Status-Status} ${Version}", "rootmirror"]).output
        }

        func owner(_ p: String) throws -> String {
            let attributes = try FileManager.default.attributesOfItem(atPath: path(p))
            return "\(attributes[.ownerAccountID]!):\(attributes[.groupOwnerAccountID]!)"
        }

        /// The account's uid and gid as the host's passwd file has them.
        func account() throws -> String? {
            let passwd = try String(contentsOfFile: path("/etc/passwd"), encoding: .utf8)
            return passwd.split(separator: "\n").first { $0.hasPrefix("rootmirror:") }
                .map { $0.split(separator: ":", omittingEmptySubsequences: false)[2...3].joined(separator: ":") }
        }
    }

    /// A root with what dpkg and useradd need, and nothing else: dpkg's
    /// database and the account files. Its database has none of the
    /// libraries the package depends on, hence --force-depends.
    static func scratchHost(_ scratch: Scratch) throws -> Host {
        let root = scratch.path
        for directory in ["etc", "var/lib/dpkg/info", "var/lib/dpkg/updates"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
        }
        scratch.write("var/lib/dpkg/status", [])
        scratch.write("etc/passwd", Array("root:x:0:0:root:/root:/bin/sh\n".utf8))
        scratch.write("etc/group", Array("root:x:0:\n".utf8))
        scratch.write("etc/shadow", Array("root:*:19000:0:99999:7:::\n".utf8))
        scratch.write("etc/gshadow", Array("root:*::\n".utf8))
        return Host(root: root, dpkgOptions: ["--instdir=\(root)", "--admindir=\(root)/var/lib/dpkg",
                                             "--force-script-chrootless", "--force-depends", "--log=/dev/null"])
    }

    func lifecycle(on host: Host) throws {
        let (current, next) = try Self.packages.get()

        let install = try host.dpkg(["--install", current])
        try #require(install.status == 0, "\(install.output)\(install.stderr)")
        #expect(try host.state() == "installed \(Self.version)")
        #expect(try Self.runPackaged(host.path("/usr/bin/rootmirror"), ["--version"]).output.hasPrefix(Self.version))
        let account = try #require(try host.account(), "no rootmirror account")
        #expect(try host.owner("/var/lib/rootmirror") == account)
        // Enabled by nobody: no unit is wanted by any target until the operator says so.
        let wants = (try? FileManager.default.subpathsOfDirectory(atPath: host.path("/etc/systemd/system"))) ?? []
        #expect(wants.filter { $0.contains("rootmirror") }.isEmpty, "\(wants)")

        // The operator's data, which an upgrade and a remove keep.
        let data = host.path("/var/lib/rootmirror/data.cdb")
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: "\(packageRoot)/zones/internic-registry-admin.asc")))
        try #require(FileManager.default.createFile(atPath: data, contents: Data(bytes)))
        try #require(FileManager.default.createFile(atPath: data + ".state", contents: Data("serial=2026082200\n".utf8)))

        let upgrade = try host.dpkg(["--install", next])
        try #require(upgrade.status == 0, "\(upgrade.output)\(upgrade.stderr)")
        #expect(try host.state() == "installed \(Self.version)+1")
        #expect(try host.account() == account, "the upgrade made another account")
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: data))) == bytes)

        // A server that systemd does not run (started by hand here) is named
        // on remove, so that it does not run on unnoticed from a deleted binary.
        let zone = try Scratch()
        defer { zone.remove() }
        let zoneFile = zone.write("root.zone", Array(". 60 IN SOA a. b. 1 1800 900 604800 5\n. 60 IN NS a.\na. 60 IN A 192.0.2.1\n".utf8))
        try #require(try run(rootmirrorBinary, ["compile", zoneFile, "-o", zone.file("data.cdb")]).status == 0)
        let server = try Daemon(name: "rootmirror", executable: "/usr/bin/env",
                                arguments: ["LD_LIBRARY_PATH=\(Self.runtimeLibraryPath)", host.path("/usr/bin/rootmirror"), "serve",
                                            "-d", zone.file("data.cdb"), "--listen", Endpoint.random().description,
                                            "--http", "off", "--check-interval", "off"],
                                logPath: zone.file("serve.log"))
        defer { server.stop() }
        #expect(server.wait(until: { server.log.contains("serving") }), "\(server.log)")
        let remove = try host.dpkg(["--remove", "rootmirror"])
        try #require(remove.status == 0, "\(remove.output)\(remove.stderr)")
        #expect(remove.stderr.contains("rootmirror: process \(server.pid) still runs /usr/bin/rootmirror, which is being removed"),
                "\(remove.output)\(remove.stderr)")
        #expect(try host.state() == "config-files \(Self.version)+1")
        for gone in ["/usr/bin/rootmirror", "/lib/systemd/system/rootmirror.service", "/usr/share/man/man8/rootmirror.8.gz"] {
            #expect(!FileManager.default.fileExists(atPath: host.path(gone)), "\(gone) left after remove")
        }
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: data))) == bytes, "remove must keep data.cdb")
        #expect(FileManager.default.fileExists(atPath: data + ".state"))

        let purge = try host.dpkg(["--purge", "rootmirror"])
        try #require(purge.status == 0, "\(purge.output)\(purge.stderr)")
        #expect(try host.state() == "")
        #expect(!FileManager.default.fileExists(atPath: host.path("/var/lib/rootmirror")), "purge must delete the data")
    }

    @Test func installUpgradeRemovePurgeInAScratchRoot() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try lifecycle(on: try Self.scratchHost(scratch))
    }

    /// On CI's throwaway machine only (`.ci/run` sets the variable): the
    /// package installed on the host itself.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ROOTMIRROR_TEST_HOST_INSTALL"] == "yes",
                   "ROOTMIRROR_TEST_HOST_INSTALL=yes only: installs on this machine"))
    func installUpgradeRemovePurgeForReal() throws {
        try lifecycle(on: Host(root: "", dpkgOptions: []))
    }
}
