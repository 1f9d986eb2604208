import Foundation
import Testing
import TestSupport

/// What the binary links. Full Foundation brings ICU and its 34 MB of data
/// (two fifths of a stripped binary, statically linked with -static-stdlib);
/// nothing rootmirror does needs it, FoundationEssentials is enough. An
/// `import Foundation` anywhere in the sources, or in a dependency, fails here.
@Suite struct LinkedLibrariesTests {
    @Test func noFoundationNorICU() throws {
        let dynamic = try run("/usr/bin/readelf", ["-d", rootmirrorBinary])
        try #require(dynamic.status == 0, "\(dynamic.stderr)")
        let needed = dynamic.output.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        try #require(needed.contains { $0.contains("[libc.so.6]") }, "\(needed)")
        for library in ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so", "libicu"] {
            #expect(!needed.contains { $0.contains("[\(library)") }, "\(library) is linked: \(needed)")
        }
    }
}
