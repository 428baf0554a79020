/// Finds every occurrence of many short literals in one pass over the bytes.
///
/// A table indexed by each literal's first two bytes says which literals may start at a position;
/// only those are compared. Code rarely holds the pairs the anchors start with, so almost every
/// position costs one table read: one pass instead of one `memmem` pass per literal, which mattered
/// once there were seventy literals (keyword spellings included) and histories of 100 MB.
struct AnchorIndex: Sendable {
    struct Hit {
        /// Index into the literals given to `init`.
        var literal: Int
        var offset: Int
    }

    private let literals: [[UInt8]]
    /// For each two-byte prefix, 1 + its index in `groups`; 0 when no literal starts with it.
    private let table: [UInt16]
    private let groups: [[Int]]

    /// `literals` must be at least two bytes long; shorter ones are never found.
    init(_ literals: [[UInt8]]) {
        self.literals = literals
        var table = [UInt16](repeating: 0, count: 1 << 16)
        var groups: [[Int]] = []
        for (index, literal) in literals.enumerated() where literal.count >= 2 {
            let key = Int(literal[0]) << 8 | Int(literal[1])
            if table[key] == 0 {
                groups.append([])
                table[key] = UInt16(groups.count)
            }
            groups[Int(table[key]) - 1].append(index)
        }
        self.table = table
        self.groups = groups
    }

    /// Every occurrence of every literal, in order of position.
    func hits(in bytes: UnsafeBufferPointer<UInt8>) -> [Hit] {
        guard bytes.count >= 2 else { return [] }
        var hits: [Hit] = []
        table.withUnsafeBufferPointer { table in
            var pair = Int(bytes[0])
            for position in 0..<(bytes.count - 1) {
                pair = (pair << 8 | Int(bytes[position + 1])) & 0xFFFF
                let group = Int(table[pair])
                if group == 0 { continue }
                for index in groups[group - 1] {
                    let literal = literals[index]
                    guard position + literal.count <= bytes.count else { continue }
                    var matched = true
                    for offset in 2..<literal.count where bytes[position + offset] != literal[offset] {
                        matched = false
                        break
                    }
                    if matched { hits.append(Hit(literal: index, offset: position)) }
                }
            }
        }
        return hits
    }
}
