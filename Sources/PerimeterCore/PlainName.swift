/// Names that go into URLs and paths as they are (model, deployment and provider names, ids): ASCII
/// letters and digits, plus a few punctuation characters, starting with a letter or digit. One check,
/// so no route lets through a character (a `/`, a `%`, a leading `.`) that another refuses.
public enum PlainName {
    /// True when `text` is 1 to `maxLength` characters of letters, digits and `punctuation`, starting
    /// with a letter or digit.
    public static func isValid(_ text: String, punctuation: String, maxLength: Int) -> Bool {
        guard let first = text.first, first.isASCII, first.isLetter || first.isNumber, text.utf8.count <= maxLength else {
            return false
        }
        return text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || punctuation.contains($0)) }
    }
}
