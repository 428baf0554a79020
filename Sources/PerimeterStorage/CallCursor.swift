import Foundation
import PerimeterCore

/// A place in the call log's order: newest first, calls of the same millisecond by id, descending.
/// A cursor is "less" than another when it comes after it in that order.
public struct CallCursor: Sendable, Hashable, Comparable {
    /// Milliseconds since 1970, as the databases store it.
    public var time: Int64
    public var id: String

    public init(time: Int64, id: String) {
        self.time = time
        self.id = id
    }

    public init(_ record: CallRecord) {
        self.init(time: record.time.milliseconds, id: record.id)
    }

    public static func < (a: CallCursor, b: CallCursor) -> Bool {
        (a.time, a.id) < (b.time, b.id)
    }

    /// The text a client passes back, opaque to it: the time, a dot, and the id's UTF-8 bytes in hex.
    /// Every text of that form (``pattern``) is a cursor, so a client cannot write one this API refuses
    /// but by breaking the form.
    public var token: String {
        "\(time)." + Hex.encode(id.utf8)
    }

    /// The form of ``token``: no NUL byte in the id, which PostgreSQL text cannot hold.
    public static let pattern = "^[0-9]{1,15}\\.([1-9a-f][0-9a-f]|0[1-9a-f]){1,256}$"

    /// The cursor `token` stands for; nil when it is not of ``token``'s form.
    public init?(token: String) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...15).contains(parts[0].utf8.count), parts[0].utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let time = Int64(parts[0]), (2...512).contains(parts[1].utf8.count),
            !parts[1].utf8.contains(where: { (0x41...0x46).contains($0) }), let bytes = Hex.decode(String(parts[1])),
            !bytes.contains(0)
        else { return nil }
        self.init(time: time, id: String(decoding: bytes, as: UTF8.self))
    }
}
