import DNSWire
import Foundation
import Testing
import TestSupport
import TSIG

@Suite struct KeyFileTests {
    static let secret = "ztUCECWqxSz745Mb8afXNfjLJnrZh5SmgFaN+jjJ+5s="

    func parse(_ text: String) throws(TSIGKeyFileError) -> [TSIGKeyDefinition] {
        try TSIGKeyFile.parse(Array(text.utf8), path: "keys.conf")
    }

    func error(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test func severalKeysWithComments() throws {
        let keys = try parse("""
            # tsig-keygen's output, twice, and comments of each kind
            key "Xfr.Example." {
            \talgorithm hmac-sha256; // the required one
            \tsecret "\(Self.secret)";
            };
            /* a comment
               over lines */ key notify-key { secret "AAECAw=="; algorithm HMAC-SHA512; };
            key "third" { algorithm hmac-sha384; secret "\(Self.secret)"; };
            """)
        #expect(keys.map(\.name.description) == ["xfr.example.", "notify-key.", "third."])
        #expect(keys.map(\.algorithm) == [.hmacSHA256, .hmacSHA512, .hmacSHA384])
        #expect(keys.map(\.line) == [2, 7, 8])
        #expect(keys[1].secret == [0, 1, 2, 3])
        #expect(keys[0].secret == Codecs.base64Decode(Array(Self.secret.utf8)))
    }

    @Test func errorsNameFileAndLine() {
        let good = "algorithm hmac-sha256; secret \"\(Self.secret)\";"
        #expect(error("key a { algorithm hmac-md5; secret \"AA==\"; };")
                == "keys.conf:1: key a.: algorithm hmac-md5 is not one of hmac-sha256, hmac-sha384, hmac-sha512")
        #expect(error("key a {\n\(good)\n};\n\nkey A { \(good) };") == "keys.conf:5: key a. defined twice (first on line 1)")
        #expect(error("key a { algorithm hmac-sha256; };") == "keys.conf:1: key a. has no secret")
        #expect(error("key a { secret \"AA==\"; };") == "keys.conf:1: key a. has no algorithm")
        #expect(error("key a {\n secret \"not base64!\"; algorithm hmac-sha256; };") == "keys.conf:2: key a.: the secret is not base64")
        #expect(error("key a { \(good) }") == "keys.conf:1: expected ';' after key a.'s '}'")
        #expect(error("key a { \(good)\n") == "keys.conf:2: key a. is not closed")
        #expect(error("\noptions { };") == "keys.conf:2: expected a key statement, found options")
        #expect(error("key a { \(good) owner x; };") == "keys.conf:1: key a.: expected algorithm or secret, found owner")
        #expect(error("key \"a {\n\(good) };") == "keys.conf:1: a quoted string that does not end on its line")
        #expect(error("/* key a { \(good) };") == "keys.conf:1: a /* comment that is not closed")
        #expect(error("key a { algorithm hmac-sha256 secret \"AA==\"; };") == "keys.conf:1: expected ';' after algorithm of key a.")
        #expect(error("key a.. { \(good) };").hasPrefix("keys.conf:1: key name \"a..\": "))
        #expect(error("key") == "keys.conf:1: a key statement without a name")
        #expect(error("") == "no error")
    }

    /// A key file as Debian's tsig-keygen (bind9-utils) writes it.
    @Test func readsTsigKeygenOutput() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        var paths: [String] = []
        for (name, algorithm) in [("one.example", "hmac-sha256"), ("two", "hmac-sha512")] {
            let generated = try run("/usr/sbin/tsig-keygen", ["-a", algorithm, name])
            try #require(generated.status == 0, "\(generated.stderr)")
            let path = dir.write("\(name).key", generated.stdout)
            chmod(path, 0o600)
            paths.append(path)
        }
        let keyring = try TSIGKeyring(readingFiles: paths)
        let one = try #require(keyring[try DNSName(text: "ONE.example.")])
        #expect(one.algorithm == .hmacSHA256 && one.secret.count == 32)
        #expect(keyring[try DNSName(text: "two.")]?.algorithm == .hmacSHA512)
        #expect(keyring.keys.count == 2)
    }

    @Test func refusesFilesOthersCanReadAndKeysTwice() throws {
        let dir = try Scratch()
        defer { dir.remove() }
        let text = Array("key a { algorithm hmac-sha256; secret \"\(Self.secret)\"; };\n".utf8)
        let open = dir.write("open.key", text)
        chmod(open, 0o644)
        #expect(throws: TSIGKeyFileError(path: open, line: 0, message: "readable by others; chmod 600")) {
            try TSIGKeyring(readingFiles: [open])
        }
        #expect(TSIGKeyFileError(path: open, line: 0, message: "readable by others; chmod 600").description
                == "\(open): readable by others; chmod 600")
        chmod(open, 0o640)
        #expect(throws: TSIGKeyFileError.self) { try TSIGKeyring(readingFiles: [open]) }
        chmod(open, 0o600)
        let again = dir.write("again.key", Array("\n".utf8) + text)
        chmod(again, 0o600)
        #expect(throws: TSIGKeyFileError(path: again, line: 2, message: "key a. is also defined in \(open):1")) {
            try TSIGKeyring(readingFiles: [open, again])
        }
        #expect(throws: TSIGKeyFileError(path: dir.file("missing"), line: 0, message: "no such file")) {
            try TSIGKeyring(readingFiles: [dir.file("missing")])
        }
    }
}
