/// A configuration problem, said so an operator can fix it: which file, which field, what is wrong
/// and what to do.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String?
    public var line: Int?
    public var field: String
    public var problem: String
    public var fix: String

    public init(file: String? = nil, line: Int? = nil, field: String, problem: String, fix: String) {
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        let place = [file, line.map { "line \($0)" }].compactMap { $0 }.joined(separator: ":")
        return (place.isEmpty ? "" : place + ": ") + "\(field): \(problem). Fix: \(fix)"
    }
}
