import ArgumentParser
@testable import RootMirrorCLI
import Testing

/// `refresh` argument checks happen before anything runs (exit 64).
@Suite struct RefreshArgumentTests {
    @Test(arguments: [
        ["refresh", "--file", "root.zone.gz"],
        ["refresh", "--sig", "root.zone.gz.sig"],
        ["refresh", "--file", "z.gz", "--sig", "z.gz.sig", "--url", "http://127.0.0.1/"],
        ["refresh", "--timeout", "0"],
        ["refresh", "--retries", "-1"],
        ["refresh", "--min-tlds", "-1"],
    ])
    func refused(_ arguments: [String]) {
        #expect(throws: (any Error).self) { try RootMirror.parseAsRoot(arguments) }
        #expect(RootMirror.exitCode(for: ValidationError("x")).rawValue == 64)
    }

    @Test func defaultsFetchFromInternic() throws {
        let command = try #require(try RootMirror.parseAsRoot(["refresh"]) as? RefreshCommand)
        #expect(command.urls == ["https://www.internic.net/domain/"])
        #expect(command.data == "data.cdb" && command.minTLDs == 1000 && !command.force && !command.quiet)
    }

    /// The spelling README.md and the help text give.
    @Test func minTLDsIsSpelledAsDocumented() throws {
        let command = try #require(try RootMirror.parseAsRoot(["refresh", "--min-tlds", "1"]) as? RefreshCommand)
        #expect(command.minTLDs == 1)
    }
}
