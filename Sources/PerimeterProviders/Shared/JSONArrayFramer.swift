/// Splits a streamed JSON array (`[{...},{...}]`, Gemini's stream without `alt=sse`) into its
/// elements as the bytes arrive, keeping only the element being read. An element larger than
/// `maximumElementSize` is skipped: its usage is then unknown and the call is charged by estimate.
struct JSONArrayFramer: Sendable {
    /// 0 before the array opens, 1 inside it, 2 and more inside an element.
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var element: [UInt8] = []
    private var overflowed = false
    static let maximumElementSize = 16 << 20

    mutating func append(_ bytes: some Sequence<UInt8>, _ emit: (ArraySlice<UInt8>) -> Void) {
        for byte in bytes {
            if depth >= 2 {
                if element.count < Self.maximumElementSize { element.append(byte) } else { overflowed = true }
            }
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = depth >= 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                if depth == 2 {
                    element = [byte]
                    overflowed = false
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth = max(0, depth - 1)
                if depth == 1 {
                    if !overflowed { emit(element[...]) }
                    element = []
                }
            default:
                break
            }
        }
    }
}
