/// A problem with zone input, always tied to the file and, where there is
/// one, the line and the offending text, so that one line on stderr tells an
/// operator what to fix.
public struct ZoneError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String
    public var text: String?

    public init(file: String, line: Int? = nil, message: String, text: String? = nil) {
        self.file = file
        self.line = line
        self.message = message
        self.text = text
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": \(message)"
        if let text {
            let shown = text.count > 80 ? String(text.prefix(77)) + "..." : text
            s += ": '\(shown)'"
        }
        return s
    }
}
