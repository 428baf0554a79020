/// Finds every occurrence of many short literals in one pass over the bytes.
///
/// A table indexed by each literal's first two bytes says which literals may start at a position;
/// only those are compared. Code rarely holds the pairs the anchors start with, so almost every
/// position costs one table read: one pass instead of one `memmem` pass per literal, which mattered
/// once there were seventy literals and histories of 100 MB. Keywords match in any capitalisation
/// (`MiStRaL_API_KEY`) at the same cost: each is entered under every case of its first two bytes.
struct AnchorIndex: Sendable {
    struct Hit {
        /// Index into the literals given to `init`.
        var literal: Int
        var offset: Int
    }

    /// A literal, and whether it matches in any capitalisation (its bytes are then lowercase).
    struct Literal: Sendable {
        var bytes: [UInt8]
        var anyCase: Bool

        init(_ bytes: [UInt8], anyCase: Bool = false) {
            self.anyCase = anyCase
            self.bytes = anyCase ? bytes.map(AnchorIndex.lower) : bytes
        }
    }

    private let literals: [Literal]
    /// For each two-byte prefix, 1 + its index in `groups`; 0 when no literal starts with it.
    private let table: [UInt16]
    private let groups: [[Int]]

    /// `literals` must be at least two bytes long; shorter ones are never found. An any-case literal is
    /// entered under every capitalisation of its first two bytes.
    init(_ literals: [Literal]) {
        self.literals = literals
        var table = [UInt16](repeating: 0, count: 1 << 16)
        var groups: [[Int]] = []
        for (index, literal) in literals.enumerated() where literal.bytes.count >= 2 {
            let firsts = literal.anyCase ? Self.cases(literal.bytes[0]) : [literal.bytes[0]]
            let seconds = literal.anyCase ? Self.cases(literal.bytes[1]) : [literal.bytes[1]]
            for first in firsts {
                for second in seconds {
                    let key = Int(first) << 8 | Int(second)
                    if table[key] == 0 {
                        groups.append([])
                        table[key] = UInt16(groups.count)
                    }
                    groups[Int(table[key]) - 1].append(index)
                }
            }
        }
        self.table = table
        self.groups = groups
    }

    init(_ literals: [[UInt8]]) {
        self.init(literals.map { Literal($0) })
    }

    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

    /// A letter in both cases; any other byte as it is.
    private static func cases(_ byte: UInt8) -> [UInt8] {
        byte >= 0x61 && byte <= 0x7A ? [byte, byte - 0x20] : [byte]
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
                    guard position + literal.bytes.count <= bytes.count else { continue }
                    var matched = true
                    if literal.anyCase {
                        for offset in 2..<literal.bytes.count where Self.lower(bytes[position + offset]) != literal.bytes[offset] {
                            matched = false
                            break
                        }
                    } else {
                        for offset in 2..<literal.bytes.count where bytes[position + offset] != literal.bytes[offset] {
                            matched = false
                            break
                        }
                    }
                    if matched { hits.append(Hit(literal: index, offset: position)) }
                }
            }
        }
        return hits
    }
}
