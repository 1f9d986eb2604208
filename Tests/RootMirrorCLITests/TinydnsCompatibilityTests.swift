import Foundation
import Testing
import TestSupport

/// data.cdb is tinydns-data's format: the same records, written by the test as
/// tinydns-data `data` lines and compiled by Debian's tinydns-data, give the
/// same cdb entries and the same tinydns-get answers as rootmirror's file.
@Suite struct TinydnsCompatibilityTests {
    /// Builds both files: rootmirror's in `ours/`, tinydns-data's in `classic/`.
    func buildBoth(_ zone: RealZone, keepDNSSEC: Bool, in scratch: Scratch) throws -> (ours: String, classic: String) {
        let ours = try scratch.makeDirectory("ours"), classic = try scratch.makeDirectory("classic")
        let compile = try runRootmirror(["compile", zone.path, "-o", "\(ours)/data.cdb"] + (keepDNSSEC ? ["--keep-dnssec"] : []))
        try #require(compile.status == 0, "\(compile.stderr)")
        let records = keepDNSSEC ? zone.records : zone.kept
        try #require(FileManager.default.createFile(atPath: "\(classic)/data", contents: Data(tinydnsData(records).utf8)))
        let build = try run("/usr/sbin/tinydns-data", [], directory: classic)
        try #require(build.status == 0, "tinydns-data: \(build.stderr)")
        return (ours, classic)
    }

    /// The strongest form of the claim: entry for entry, byte for byte (cdb
    /// order aside), for every type, DNSSEC included.
    @Test(arguments: [
        ("root-2023051100.zone.gz", false), ("root-2023051100.zone.gz", true),
        ("root-2026082200-nosig.zone.gz", false), ("root-2026082201-nosig.zone.gz", true),
    ])
    func sameEntriesAsTinydnsData(file: String, keepDNSSEC: Bool) throws {
        let zone = try realZone(file)
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (ours, classic) = try buildBoth(zone, keepDNSSEC: keepDNSSEC, in: scratch)
        let classicEntries = try cdbEntries("\(classic)/data.cdb").sorted()
        let ourEntries = try cdbEntries("\(ours)/data.cdb").sorted()
        #expect(classicEntries.count == (keepDNSSEC ? zone.records.count : zone.kept.count))
        #expect(ourEntries.count == classicEntries.count)
        if ourEntries != classicEntries {
            let extra = Set(ourEntries).subtracting(classicEntries), missing = Set(classicEntries).subtracting(ourEntries)
            let example = { (set: Set<CDBEntry>) in set.min().map { "\($0)" } ?? "-" }
            Issue.record("\(extra.count) entries only in ours (e.g. \(example(extra))), \(missing.count) only in tinydns-data's (e.g. \(example(missing)))")
        }
    }

    /// tinydns-get's answer for one query, lines sorted (cdb order, and so
    /// record order within a section, differs). Its output has no query id:
    /// `TYPE NAME:`, a size/flags line, `query:`, then one line per record.
    static func tinydnsGet(_ type: String, _ name: String, in directory: String) throws -> [String] {
        let result = try run("/usr/bin/tinydns-get", [type, name], directory: directory)
        guard result.status == 0 else { throw TestFailure("tinydns-get \(type) \(name) in \(directory): \(result.stderr)") }
        return result.output.split(separator: "\n").map(String.init).sorted()
    }

    /// What tinydns itself would answer, over a few hundred names and six
    /// types per zone: referrals, glue names, the apex, NXDOMAIN.
    @Test(arguments: ["root-2023051100.zone.gz", "root-2026082201-nosig.zone.gz"])
    func tinydnsGetAnswersTheSame(file: String) throws {
        let zone = try realZone(file)
        let scratch = try Scratch()
        defer { scratch.remove() }
        let (ours, classic) = try buildBoth(zone, keepDNSSEC: false, in: scratch)

        let tlds = zone.tlds.sorted()
        let glue = Set(zone.kept.filter { $0.type == "A" || $0.type == "AAAA" }.map(\.owner)).sorted()
        var names = [".", "com.", "net.", "org.", "uk.", "de.", "www.example.com.", "a.gtld-servers.net.",
                     "a.root-servers.net.", "root-servers.net.", "gtld-servers.net.", "nic.uk.", "nonexistent-tld-xyz.",
                     "foo.local.", "wpad.home.", "Www.Example.Org.", "COM."]
        names += stride(from: 0, to: tlds.count, by: tlds.count / 60).map { tlds[$0] }
        names += stride(from: 7, to: tlds.count, by: tlds.count / 30).map { "www.example.\(tlds[$0])" }
        names += stride(from: 3, to: glue.count, by: glue.count / 40).map { glue[$0] }
        names += (0..<20).map { "random\($0)-not-a-tld." }
        // Numeric types: tinydns-get knows no mnemonic for AAAA or DS.
        let queries = names.flatMap { name in ["1", "2", "28", "6", "43", "15"].map { (type: $0, name: name) } }
        #expect(Set(names).count >= 150 && queries.count >= 900)

        // tinydns-get twice per query, several at a time; compared below.
        let answers = Answers(count: queries.count)
        DispatchQueue.concurrentPerform(iterations: queries.count) { i in
            let q = queries[i]
            answers.set(i, Result { (try Self.tinydnsGet(q.type, q.name, in: classic), try Self.tinydnsGet(q.type, q.name, in: ours)) })
        }
        var kinds: [String: Int] = [:]
        for (i, q) in queries.enumerated() {
            let (classicAnswer, ourAnswer) = try answers.get(i)
            #expect(ourAnswer == classicAnswer, "tinydns-get \(q.type) \(q.name)")
            // The second line says what kind of answer it was.
            let summary = classicAnswer.first { $0.contains(" bytes, ") } ?? ""
            for kind in ["authoritative, noerror", "nxdomain", "response, noerror"] where summary.hasSuffix(kind) {
                kinds[kind, default: 0] += 1
            }
        }
        // The comparison covered real answers, not only empty ones.
        #expect(kinds["authoritative, noerror", default: 0] >= 6, "\(kinds)")
        #expect(kinds["nxdomain", default: 0] >= 100, "\(kinds)")
        #expect(kinds["response, noerror", default: 0] >= 500, "\(kinds)")
        // And tinydns-data's answers are what the zone text says.
        let comNS = Set(zone.records("com.", "NS").map { "authority: com \($0.ttl) NS \($0.rdata[0].dropLast())" })
        let referral = try Self.tinydnsGet("1", "www.example.com", in: classic)
        #expect(comNS.count == 13 && comNS.isSubset(of: referral), "\(referral)")
    }
}

/// Results written by concurrent workers, read afterwards.
final class Answers: @unchecked Sendable {
    private var results: [Result<([String], [String]), any Error>?]
    private let lock = NSLock()
    init(count: Int) { results = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ result: Result<([String], [String]), any Error>) { lock.withLock { results[i] = result } }
    func get(_ i: Int) throws -> ([String], [String]) { try lock.withLock { results[i] }!.get() }
}
