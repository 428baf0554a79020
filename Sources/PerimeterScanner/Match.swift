/// One secret the ``Detector`` found in a piece of content: which rule, where, and the text itself.
public struct Match: Sendable, Hashable {
    public var ruleID: String
    /// Byte offsets of the secret in the content (empty for findings about the whole file).
    public var range: Range<Int>
    /// 1-based line and byte column; 0 and 0 for findings about the whole file.
    public var line: Int
    public var column: Int
    /// The secret's text (for `env-file-committed`, the path).
    public var text: String
    /// The decoding that revealed it, when the plain text did not show it.
    public var encoding: Encoding?

    public init(ruleID: String, range: Range<Int>, line: Int, column: Int, text: String, encoding: Encoding? = nil) {
        self.ruleID = ruleID
        self.range = range
        self.line = line
        self.column = column
        self.text = text
        self.encoding = encoding
    }
}
