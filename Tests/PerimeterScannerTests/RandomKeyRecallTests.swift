import Testing

@testable import PerimeterScanner

/// No real key of a known shape is dropped: for every rule, 200,000 keys drawn at random in the
/// shape's alphabet at its shortest length (where entropy is lowest) all pass the rule's entropy floor,
/// placeholder filter and validation. A floor set by hand dropped about one DeepSeek key in 55.
@Suite struct RandomKeyRecallTests {
    static let keysPerRule = 200_000

    /// A real key of a rule whose validation checks a structure the byte class does not say, built
    /// from random parts; `nil` for the other rules.
    static func structuredKey(_ ruleID: String, _ random: inout Random) -> [UInt8]? {
        switch ruleID {
        case "anthropic-api-key": Array("sk-ant-api03-".utf8) + random.bytes(urlSafe, 93) + Array("AA".utf8)
        case "anthropic-admin-key": Array("sk-ant-admin01-".utf8) + random.bytes(urlSafe, 93) + Array("AA".utf8)
        case "langsmith-api-key": Array("lsv2_pt_".utf8) + random.bytes(hex, 32) + Array("_".utf8) + random.bytes(hex, 10)
        case "pinecone-api-key": Array("pcsk_".utf8) + random.bytes(alphanumeric, 5) + Array("_".utf8) + random.bytes(alphanumeric, 54)
        default: nil
        }
    }
    static let structuredRules: Set = ["anthropic-api-key", "anthropic-admin-key", "langsmith-api-key", "pinecone-api-key"]

    static let urlSafe = ByteClass.urlSafe.alphabet
    static let alphanumeric = ByteClass.alphanumeric.alphabet
    static let hex = Array("0123456789abcdef".utf8)

    struct Random {
        var state: UInt64
        mutating func bytes(_ alphabet: [UInt8], _ count: Int) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            let size = UInt64(alphabet.count)
            for index in 0..<count {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                out[index] = alphabet[Int(state % size)]
            }
            return out
        }
    }

    /// The alphabets and lengths real keys of a rule have, where the rule's byte class is wider.
    static func shapes(of rule: Rule) -> [(alphabet: [UInt8], length: Int, prefix: String, marker: String?)] {
        let base32 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
        switch (rule.id, rule.shape) {
        case ("azure-openai-api-key", _):
            return [(hex, 32, "", nil), (alphanumeric, 84, "", nil)]
        case ("aws-access-key-id", .prefixed(let prefix, _, let length)),
            ("aws-temporary-access-key-id", .prefixed(let prefix, _, let length)):
            return [(base32, length.lowerBound, prefix, nil)]
        case (_, .prefixed(let prefix, let body, let length)):
            return [(body.alphabet, length.lowerBound, prefix, nil)]
        case (_, .bare(let body, let lengths)):
            return lengths.sorted().map { (body.alphabet, $0, "", nil) }
        case (_, .marker(let marker, let body, let starts, let length)):
            return starts.map { (body.alphabet, length.lowerBound, $0, marker) }
        case (_, .envAssignment), (_, .envFile):
            return []
        }
    }

    @Test(arguments: RuleCatalog.all.filter { !$0.isChecksummed && (!shapes(of: $0).isEmpty || structuredRules.contains($0.id)) }.map(\.id))
    func noRandomKeyOfTheShapeIsDropped(ruleID: String) async {
        // Minutes of CPU over all rules: the test yields now and then, so the other suites running
        // beside it on the cooperative pool (some of them waiting on timers) are not starved.
        let detector = Detector()
        let index = detector.rules.firstIndex { $0.id == ruleID }!
        var random = Random(state: 0x2545_F491_4F6C_DD1D)
        for byte in ruleID.utf8 { random.state = (random.state &* 31) &+ UInt64(byte) | 1 }
        var dropped: [String] = []
        if Self.structuredRules.contains(ruleID) {
            for count in 0..<Self.keysPerRule {
                if count % 2048 == 0 { await Task.yield() }
                guard let token = Self.structuredKey(ruleID, &random) else { break }
                if !token.withUnsafeBufferPointer({ detector.accepts(ruleAt: index, $0[...]) }) {
                    dropped.append(String(decoding: token, as: UTF8.self))
                    if dropped.count >= 3 { break }
                }
            }
            #expect(dropped.isEmpty, "\(ruleID) dropped random keys of its shape, e.g. \(dropped)")
            return
        }
        for shape in Self.shapes(of: detector.rules[index]) {
            // The key's fixed parts and where the random bytes go; one buffer, refilled for each key.
            let prefix = Array(shape.prefix.utf8)
            let marker = Array((shape.marker ?? "").utf8)
            let alphabet = shape.alphabet
            let randomCount = shape.length - (marker.isEmpty ? 0 : prefix.count + marker.count)
            let half = randomCount / 2
            // A marker key (OpenAI's) carries its marker in the middle of the random part.
            var token = prefix + [UInt8](repeating: 0, count: half) + marker + [UInt8](repeating: 0, count: randomCount - half)
            let slots = Array(prefix.count..<prefix.count + half) + Array(prefix.count + half + marker.count..<token.count)
            let size = UInt64(alphabet.count)
            for count in 0..<Self.keysPerRule {
                if count % 2048 == 0 { await Task.yield() }
                for slot in slots {
                    random.state ^= random.state << 13
                    random.state ^= random.state >> 7
                    random.state ^= random.state << 17
                    token[slot] = alphabet[Int(random.state % size)]
                }
                let accepted = token.withUnsafeBufferPointer { detector.accepts(ruleAt: index, $0[...]) }
                if !accepted {
                    dropped.append(String(decoding: token, as: UTF8.self))
                    if dropped.count >= 3 { break }
                }
            }
        }
        #expect(dropped.isEmpty, "\(ruleID) dropped random keys of its shape, e.g. \(dropped)")
    }

    @Test func theDerivedFloorsAreBelowTheMeasuredTails() {
        // One-in-a-million tails measured over four million random keys each.
        for (alphabet, length, tail) in [
            (16, 32, 2.80), (16, 64, 3.316), (62, 32, 3.765), (62, 40, 4.065), (36, 16, 2.522), (64, 40, 4.093), (64, 100, 5.027),
        ] {
            #expect(Entropy.floor(alphabetSize: alphabet, length: length) < tail, "\(alphabet) symbols, \(length) long")
        }
        // And still above what placeholders and words have.
        #expect(Entropy.bitsPerByte(Array("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8)) < Entropy.floor(alphabetSize: 16, length: 32))
        #expect(Entropy.bitsPerByte(Array("abababababababababababababababab".utf8)) < Entropy.floor(alphabetSize: 16, length: 32))
    }
}
