/// A message printed the way `dig` prints one, so that operators read
/// `rootmirror query` output with habits they already have.
extension Message {
    public func digText(size: Int? = nil) -> String {
        let opcodes = ["QUERY", "IQUERY", "STATUS", "OPCODE3", "NOTIFY", "UPDATE"]
        let opcode = Int(header.opcode) < opcodes.count ? opcodes[Int(header.opcode)] : "OPCODE\(header.opcode)"
        var flagNames: [String] = []
        for (bit, name) in [(MessageHeader.qrBit, "qr"), (MessageHeader.aaBit, "aa"), (MessageHeader.tcBit, "tc"),
                            (MessageHeader.rdBit, "rd"), (MessageHeader.raBit, "ra"), (MessageHeader.adBit, "ad"),
                            (MessageHeader.cdBit, "cd")] where header.flags & bit != 0 {
            flagNames.append(name)
        }
        var lines = [
            ";; ->>HEADER<<- opcode: \(opcode), status: \(rcode), id: \(header.id)",
            ";; flags: \(flagNames.joined(separator: " ")); QUERY: \(questions.count), ANSWER: \(answers.count), "
                + "AUTHORITY: \(authority.count), ADDITIONAL: \(additional.count + (edns == nil ? 0 : 1))",
        ]
        if let edns {
            lines += ["", ";; OPT PSEUDOSECTION:",
                      "; EDNS: version: \(edns.version), flags:\(edns.dnssecOK ? " do" : ""); udp: \(edns.udpPayloadSize)"]
        }
        lines += ["", ";; QUESTION SECTION:"]
        lines += questions.map { ";\($0.name)\t\t\($0.rclass)\t\($0.type)" }
        for (title, records) in [("ANSWER", answers), ("AUTHORITY", authority), ("ADDITIONAL", additional)] where !records.isEmpty {
            lines += ["", ";; \(title) SECTION:"]
            lines += records.map(\.description)
        }
        if let size { lines += ["", ";; MSG SIZE  rcvd: \(size)"] }
        return lines.joined(separator: "\n")
    }
}
