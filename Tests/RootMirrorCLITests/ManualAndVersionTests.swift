import BuildInfo
import Foundation
import Testing
import TestSupport

/// `--version`, the man page rootmirror(8) and the shell completions.
@Suite struct ManualAndVersionTests {
    static let page = "\(packageRoot)/service/man/rootmirror.8"

    /// Built in a checkout, the binary names the commit it was built from.
    @Test func versionNamesThePackageVersionAndTheCommit() throws {
        let version = try run(rootmirrorBinary, ["--version"])
        #expect(version.status == 0)
        #expect(version.output == BuildInfo.description + "\n")
        let head = try run("/usr/bin/git", ["-C", packageRoot, "rev-parse", "HEAD"]).output
        let commit = try #require(BuildInfo.commit, "built in a checkout, but no commit recorded")
        #expect(head.hasPrefix(commit.replacingOccurrences(of: "-dirty", with: "")), "\(commit) is not HEAD \(head)")
        #expect(version.output.hasPrefix("\(BuildInfo.version) (git \(commit))"))
    }

    @Test func manPageRendersWithoutWarnings() throws {
        let groff = try run("/usr/bin/groff", ["-man", "-ww", "-Tutf8", "-z", Self.page])
        #expect(groff.status == 0 && groff.stderr.isEmpty, "\(groff.stderr)")
        let text = try run("/usr/bin/groff", ["-man", "-Tascii", "-P", "-cbou", Self.page]).output
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"] {
            #expect(text.contains("\n\(section)\n"), "no \(section) section")
        }
    }

    /// The page is generated (`make man`) from the argument definitions: it
    /// lists every subcommand and option the binary has, and none it lacks.
    /// A new option without `make man` fails here.
    @Test func manPageMatchesTheArgumentDefinitions() throws {
        let dump = try run(rootmirrorBinary, ["--experimental-dump-help"])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout)) as? [String: Any])
        let command = try #require(root["command"] as? [String: Any])
        var subcommands: Set<String> = []
        var options: Set<String> = []
        func collect(_ command: [String: Any]) {
            for argument in command["arguments"] as? [[String: Any]] ?? [] {
                for name in argument["names"] as? [[String: Any]] ?? [] where name["kind"] as? String == "long" {
                    options.insert(name["name"] as! String)
                }
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] {
                if let name = sub["commandName"] as? String { subcommands.insert(name) }
                collect(sub)
            }
        }
        collect(command)
        let source = try String(contentsOfFile: Self.page, encoding: .utf8)
        let lines = source.split(separator: "\n")
        // Options appear as `.It Fl o , -output Ar output`: long names are
        // the words after Fl that start with "-" (Fl adds the first dash).
        let documented = Set(lines.filter { $0.hasPrefix(".It Fl ") }.flatMap { line in
            line.split(separator: " ").filter { $0.hasPrefix("-") }.map { String($0.dropFirst()) }
        })
        let builtIn: Set = ["help", "version", "experimental-dump-help", "generate-completion-script"]
        #expect(options.subtracting(builtIn).subtracting(documented).isEmpty,
                "options missing from the page (run make man): \(options.subtracting(documented).sorted())")
        #expect(documented.subtracting(options).subtracting(builtIn).isEmpty,
                "options the binary no longer has (run make man): \(documented.subtracting(options).sorted())")
        let documentedCommands = Set(lines.filter { $0.hasPrefix(".It Em ") }.map { String($0.dropFirst(".It Em ".count)) })
        #expect(documentedCommands == subcommands, "subcommands on the page \(documentedCommands.sorted()), in the binary \(subcommands.sorted())")
        #expect(options.count > 30 && subcommands.isSuperset(of: ["compile", "verify", "query", "serve", "refresh", "check"]), "\(subcommands) \(options.count)")
    }

    @Test(arguments: ["bash", "zsh", "fish"])
    func completionsCoverTheSubcommandsAndOptions(shell: String) throws {
        let script = try run(rootmirrorBinary, ["--generate-completion-script", shell])
        #expect(script.status == 0)
        for word in ["compile", "query", "serve", "refresh", "check", "keyring", "on-expiry", "upstream"] {
            #expect(script.output.contains(word), "\(shell) completion lacks \(word)")
        }
    }
}
