import Foundation
import Testing
import TestSupport

/// The `rootmirror` binary SwiftPM built beside this test bundle.
let rootmirror: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("rootmirror").path
}()

/// One record of a root-zone file, split the simple way: both shared zone
/// layouts keep each record on one line, owner TTL class type rdata...
struct ZoneLine {
    var owner: String
    var ttl: String
    var type: String
    var rdata: [String]
}

func zoneLines(_ file: String) throws -> [ZoneLine] {
    let text = try run("/bin/gzip", ["-dc", file]).output
    return text.split(separator: "\n").compactMap { line in
        let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard f.count >= 5, !f[0].hasPrefix(";") else { return nil }
        return ZoneLine(owner: f[0].lowercased(), ttl: f[1], type: f[3].uppercased(), rdata: Array(f[4...]))
    }
}

let dnssecTypes: Set<String> = ["RRSIG", "DNSKEY", "DS", "NSEC", "NSEC3", "NSEC3PARAM", "CDS", "CDNSKEY", "ZONEMD"]

/// The same records as tinydns-data input lines, written independently of
/// rootmirror's code: Z for the SOA, & for NS, + for A, the generic `:`
/// line with octal-escaped rdata for everything else.
func tinydnsData(_ lines: [ZoneLine]) -> String {
    func octal(_ bytes: [UInt8]) -> String { bytes.map { String(format: "\\%03o", $0) }.joined() }
    var out = ""
    for r in lines {
        switch r.type {
        case "SOA":
            let f = r.rdata
            out += "Z\(r.owner):\(f[0]):\(f[1]):\(f[2]):\(f[3]):\(f[4]):\(f[5]):\(f[6]):\(r.ttl)\n"
        case "NS":
            out += "&\(r.owner)::\(r.rdata[0]):\(r.ttl)\n"
        case "A":
            out += "+\(r.owner):\(r.rdata[0]):\(r.ttl)\n"
        case "AAAA":
            var a = in6_addr()
            inet_pton(AF_INET6, r.rdata[0], &a)
            out += ":\(r.owner):28:\(octal(withUnsafeBytes(of: a) { Array($0) })):\(r.ttl)\n"
        case "DS":
            let digest = r.rdata[3...].joined()
            var bytes: [UInt8] = [UInt8(Int(r.rdata[0])! >> 8), UInt8(Int(r.rdata[0])! & 0xFF), UInt8(r.rdata[1])!, UInt8(r.rdata[2])!]
            var i = digest.startIndex
            while i < digest.endIndex {
                let j = digest.index(i, offsetBy: 2)
                bytes.append(UInt8(digest[i..<j], radix: 16)!)
                i = j
            }
            out += ":\(r.owner):43:\(octal(bytes)):\(r.ttl)\n"
        default:
            break
        }
    }
    return out
}

@Suite(.serialized) struct TinydnsCompatibilityTests {
    /// tinydns-get's answer for one query, lines sorted (cdb order differs).
    func tinydnsGet(_ type: String, _ name: String, in directory: String) throws -> [String] {
        let result = try run("/usr/bin/tinydns-get", [type, name], directory: directory)
        #expect(result.status == 0, "tinydns-get \(type) \(name): \(result.stderr)")
        return result.output.split(separator: "\n").map(String.init).sorted()
    }

    @Test(arguments: ["root-2023051100.zone.gz", "root-2026082201-nosig.zone.gz"])
    func tinydnsAnswersTheSameFromBothFiles(file: String) throws {
        let zone = "\(sharedZones)/\(file)"
        let scratch = try Scratch()
        let ours = "\(scratch.path)/ours", classic = "\(scratch.path)/classic"
        try FileManager.default.createDirectory(atPath: ours, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: classic, withIntermediateDirectories: true)

        let compile = try run(rootmirror, ["compile", zone, "-o", "\(ours)/data.cdb"])
        try #require(compile.status == 0, "\(compile.stderr)")

        let lines = try zoneLines(zone)
        let kept = lines.filter { !dnssecTypes.contains($0.type) }
        FileManager.default.createFile(atPath: "\(classic)/data", contents: Data(tinydnsData(kept).utf8))
        let build = try run("/usr/sbin/tinydns-data", [], directory: classic)
        try #require(build.status == 0, "tinydns-data: \(build.stderr)")

        // A few hundred names: every kind of answer the root gives.
        let tlds = Array(Set(kept.filter { $0.type == "NS" && $0.owner != "." }.map(\.owner))).sorted()
        let glue = Array(Set(kept.filter { $0.type == "A" || $0.type == "AAAA" }.map(\.owner))).sorted()
        var names = [".", "com.", "net.", "org.", "uk.", "de.", "www.example.com.", "a.gtld-servers.net.",
                     "a.root-servers.net.", "nic.uk.", "nonexistent-tld-xyz.", "foo.local.", "wpad.home.", "Www.Example.Org."]
        names += stride(from: 0, to: tlds.count, by: max(1, tlds.count / 60)).map { tlds[$0] }
        names += stride(from: 0, to: tlds.count, by: max(1, tlds.count / 30)).map { "www.example.\(tlds[$0])" }
        names += stride(from: 0, to: glue.count, by: max(1, glue.count / 40)).map { glue[$0] }
        names += (0..<20).map { "random\($0)-not-a-tld." }
        var compared = 0
        for name in names {
            // Numeric types: tinydns-get knows no mnemonic for AAAA or DS.
            for type in ["1", "2", "28", "6", "43", "15"] {
                let classicAnswer = try tinydnsGet(type, name, in: classic)
                let ourAnswer = try tinydnsGet(type, name, in: ours)
                #expect(ourAnswer == classicAnswer, "tinydns-get \(type) \(name)")
                compared += 1
            }
        }
        #expect(compared >= 600)
    }

    @Test(arguments: [
        ("root-2023051100.zone.gz", 2_023_051_100, 1479),
        ("root-2026082200-nosig.zone.gz", 2_026_082_200, 1438),
        ("root-2026082201-nosig.zone.gz", 2_026_082_201, 1438),
    ] as [(String, Int, Int)])
    func compileCountsMatchAnIndependentCount(file: String, serial: Int, tldCount: Int) throws {
        let zone = "\(sharedZones)/\(file)"
        let lines = try zoneLines(zone)
        let stripped = lines.filter { dnssecTypes.contains($0.type) }.count
        let kept = lines.count - stripped
        let tlds = Set(lines.filter { $0.type == "NS" && $0.owner != "." }.map(\.owner)).count
        #expect(tlds == tldCount)

        let scratch = try Scratch()
        let out = "\(scratch.path)/data.cdb"
        let compile = try run(rootmirror, ["compile", zone, "-o", out])
        #expect(compile.status == 0)
        #expect(compile.output.hasPrefix("\(out): serial \(serial), \(tlds) TLDs, \(kept) records kept, \(stripped) DNSSEC records stripped, "))
        // tinycdb's own tool counts the entries: one per record.
        let stats = try run("/usr/bin/cdb", ["-s", out]).output
        #expect(stats.contains("number of records: \(kept)\n"), "\(stats)")

        let all = try run(rootmirror, ["compile", zone, "-o", out, "--keep-dnssec"])
        #expect(all.output.contains(", \(lines.count) records kept, 0 DNSSEC records stripped, "))
    }
}
