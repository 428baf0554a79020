/// Counts the output tokens a stream event carried, from its text, without a tokenizer: every
/// non-empty string under one of `keys` is at least one token, and one more for every four bytes past
/// the first four. Providers stream about a token per delta, and no tokenizer puts fewer than one
/// token in a non-empty piece of text, so a count that ends early (the client left, the stream was cut)
/// is not below what was relayed.
///
/// Bytes only: no JSON is built. A key is matched as `"key"`, optional blanks, `:`, optional blanks,
/// then a string; `null`, numbers and objects under the key are not text and count nothing.
struct DeltaTokens {
    private let keys: [[UInt8]]

    init(keys: [String]) {
        self.keys = keys.map { Array("\"\($0)\"".utf8) }
    }

    func count(in data: some Collection<UInt8>) -> Int {
        let bytes = Array(data)
        var tokens = 0
        var index = 0
        while index < bytes.count {
            guard bytes[index] == UInt8(ascii: "\""), let key = keys.first(where: { matches($0, in: bytes, at: index) }) else {
                index += 1
                continue
            }
            var cursor = index + key.count
            cursor = skipBlanks(bytes, from: cursor)
            guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: ":") else {
                index += key.count
                continue
            }
            cursor = skipBlanks(bytes, from: cursor + 1)
            guard cursor < bytes.count, bytes[cursor] == UInt8(ascii: "\"") else {
                index = cursor
                continue
            }
            let (length, end) = stringLength(bytes, from: cursor + 1)
            if length > 0 { tokens += 1 + max(0, length - 1) / 4 }
            index = end
        }
        return tokens
    }

    private func matches(_ key: [UInt8], in bytes: [UInt8], at index: Int) -> Bool {
        index + key.count <= bytes.count && bytes[index..<index + key.count].elementsEqual(key)
    }

    private func skipBlanks(_ bytes: [UInt8], from start: Int) -> Int {
        var index = start
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x09 || bytes[index] == 0x0A || bytes[index] == 0x0D {
            index += 1
        }
        return index
    }

    /// The byte length of the JSON string starting after its opening quote (escapes counted as
    /// written), and the index after its closing quote; an unterminated string runs to the end.
    private func stringLength(_ bytes: [UInt8], from start: Int) -> (Int, Int) {
        var index = start
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return (index - start, index + 1)
            default: index += 1
            }
        }
        return (max(0, min(index, bytes.count) - start), bytes.count)
    }
}
