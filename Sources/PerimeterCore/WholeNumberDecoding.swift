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
