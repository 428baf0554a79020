import PerimeterCore
import PerimeterStorage

extension SpendSeriesReport {
    /// The report as JSON, written directly: what `JSONEncoder` with sorted keys writes, value for value,
    /// in a fraction of its time. A month by day grouped by 1,000 keys is 30,000 points (4.7 MB), where
    /// Foundation's encoder alone took most of the 300 ms a console page may take.
    public func json() -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(256 + data.count * 160)
        func key(_ name: String, first: Bool = false) {
            if !first { out.append(UInt8(ascii: ",")) }
            JSONText.append(string: name, to: &out)
            out.append(UInt8(ascii: ":"))
        }
        func number(_ value: some CustomStringConvertible) { out.append(contentsOf: value.description.utf8) }
        key("bucket", first: true)
        JSONText.append(string: bucket.rawValue, to: &out)
        key("data")
        out.append(UInt8(ascii: "["))
        for (index, point) in data.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "{"))
            key("calls", first: true)
            number(point.calls)
            key("cost_usd")
            number(point.cost.usd)
            key("denied")
            number(point.denied)
            key("group")
            JSONText.append(string: point.group, to: &out)
            key("input_tokens")
            number(point.inputTokens)
            key("output_tokens")
            number(point.outputTokens)
            key("start")
            JSONText.append(string: Timestamp.format(point.start), to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        key("group_by")
        JSONText.append(string: groupBy, to: &out)
        if let keyID {
            key("key_id")
            JSONText.append(string: keyID, to: &out)
        }
        key("since")
        JSONText.append(string: since, to: &out)
        key("until")
        JSONText.append(string: until, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
