extension KeyedDecodingContainer {
    /// A whole number from JSON. A fraction, or a number too large for any limit, is a decoding error
    /// naming the key: Foundation's decoder would call `1e30` for an `Int` only "not valid JSON".
    package func decodeWholeNumber(forKey key: Key) throws -> Int {
        let value = try decode(Double.self, forKey: key)
        guard value.rounded() == value, abs(value) <= 9.0e15 else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "must be a whole number")
        }
        return Int(value)
    }

    package func decodeWholeNumberIfPresent(forKey key: Key) throws -> Int? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        return try decodeWholeNumber(forKey: key)
    }
}

/// A coding key for any member name: how a decoder lists the members an object really has.
package struct AnyCodingKey: CodingKey {
    package var stringValue: String
    package var intValue: Int? { nil }
    package init(stringValue: String) { self.stringValue = stringValue }
    package init?(intValue: Int) { nil }
}

extension Decoder {
    /// Throws when the object being decoded has a member outside `known`, naming it: a misspelt
    /// limit (`"budegt"`) is refused instead of silently leaving the key unlimited.
    package func refuseUnknownKeys(_ known: some Sequence<String>) throws {
        let container = try container(keyedBy: AnyCodingKey.self)
        let allowed = Set(known)
        if let unknown = container.allKeys.first(where: { !allowed.contains($0.stringValue) }) {
            throw DecodingError.dataCorruptedError(
                forKey: unknown, in: container,
                debugDescription: "unknown field; expected one of \(allowed.sorted().joined(separator: ", "))")
        }
    }
}

extension Decoder {
    /// ``refuseUnknownKeys(_:)`` for a type's own coding keys.
    package func refuseUnknownKeys<Key: CodingKey & CaseIterable>(of _: Key.Type) throws {
        try refuseUnknownKeys(Key.allCases.map(\.stringValue))
    }
}
