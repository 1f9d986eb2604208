import Foundation
import Testing
import TestSupport

/// What `--help` shows an operator first, and which commands offer what.
@Suite struct HelpTextTests {
    func help(_ command: String) throws -> [Substring] {
        let result = try run(rootmirrorBinary, [command, "--help"])
        try #require(result.status == 0, "\(result.stderr)")
        return result.output.split(separator: "\n")
    }

    /// `-d` and `--listen` are what every serve line names: they come before
    /// the tuning, freshness and refresh options, not behind them.
    @Test func serveShowsDataAndListenFirst() throws {
        let lines = try help("serve")
        let firstOption = try #require(lines.firstIndex { $0.hasPrefix("  -") })
        #expect(lines[firstOption].contains("-d, --data"), "\(lines[firstOption])")
        #expect(lines[firstOption...].prefix(4).contains { $0.contains("--listen") }, "\(lines[firstOption...].prefix(4))")
    }

    /// Section headings are ArgumentParser's, upper-cased: an option named in
    /// one would read `WITH -D`, an option that does not exist.
    @Test func headingsNameNoOption() throws {
        for command in ["compile", "verify", "query", "serve", "refresh", "check"] {
            let headings = try help(command).filter { !$0.hasPrefix(" ") && $0.hasSuffix(":") && $0 == $0.uppercased() }
            #expect(headings.contains("OPTIONS:") && !headings.contains { $0.contains("-") }, "\(command): \(headings)")
        }
    }

    /// `--now` checks signatures as of another time, for one-off checks; a
    /// server running for days on the real clock does not take it.
    @Test func nowIsOnlyOnTheCommandsThatCheckOnce() throws {
        for command in ["verify", "compile", "refresh"] {
            #expect(try help(command).contains { $0.contains("--now <time>") }, "\(command)")
        }
        #expect(try !help("serve").contains { $0.contains("--now") })
        let refused = try run(rootmirrorBinary, ["serve", "--now", "2023-05-11T12:00:00Z", "--http", "off"])
        #expect(refused.status == 64 && refused.stderr.hasPrefix("rootmirror: ") && refused.stderr.contains("--now"), "\(refused.stderr)")
    }
}
