/// The commit that introduced a blob: who, when, and its place in history (oldest first).
public struct Commit: Sendable, Hashable {
    public var sha: String
    public var author: String
    public var email: String
    /// The author date as git prints it (`%aI`, strict ISO 8601).
    public var date: String
    /// Position in `git log --reverse --topo-order`: parents before children.
    public var order: Int

    public init(sha: String, author: String, email: String, date: String, order: Int) {
        self.sha = sha
        self.author = author
        self.email = email
        self.date = date
        self.order = order
    }

    public var shortSHA: String { String(sha.prefix(7)) }
}
