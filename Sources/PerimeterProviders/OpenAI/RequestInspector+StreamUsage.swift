import PerimeterCore

extension RequestInspector {
    /// The body of a streamed OpenAI chat request, changed to ask upstream for the usage chunk.
    ///
    /// Only the `stream_options` member is touched; every other byte goes upstream as the client sent it.
    package static func requestingStreamUsage(_ body: [UInt8], members: [String: JSONScanner.Member]) -> [UInt8] {
        let includeUsage = Array(#""include_usage":true"#.utf8)
        guard let options = members["stream_options"] else {
            // Insert the member right after the object's opening brace.
            guard let brace = body.firstIndex(of: UInt8(ascii: "{")) else { return body }
            var out = [UInt8]()
            out.reserveCapacity(body.count + 40)
            out.append(contentsOf: body[...brace])
            out.append(contentsOf: Array(#""stream_options":{"#.utf8) + includeUsage + [UInt8(ascii: "}")])
            let hasOtherMembers = !members.isEmpty
            if hasOtherMembers { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: body[(brace + 1)...])
            return out
        }
        var replacement = [UInt8(ascii: "{")] + includeUsage
        if case .object = options.kind {
            // Keep the client's other options; drop its own include_usage, which was false.
            let original = Array(body[options.range])
            if let inner = try? JSONScanner.topLevelMembers(of: original) {
                for (name, member) in inner.sorted(by: { $0.value.range.lowerBound < $1.value.range.lowerBound })
                where name != "include_usage" {
                    replacement.append(UInt8(ascii: ","))
                    replacement.append(contentsOf: JSONText.string(name))
                    replacement.append(UInt8(ascii: ":"))
                    replacement.append(contentsOf: original[member.range])
                }
            }
        }
        replacement.append(UInt8(ascii: "}"))
        return Array(body[..<options.range.lowerBound]) + replacement + Array(body[options.range.upperBound...])
    }

    /// The body with its top-level `model` set to `model` (an Azure deployment, where Azure reads the
    /// body's model as one); every other byte as the client sent it.
    package static func replacingModel(_ body: [UInt8], members: [String: JSONScanner.Member], with model: String) -> [UInt8] {
        guard let member = members["model"], case .string = member.kind else { return body }
        return Array(body[..<member.range.lowerBound]) + JSONText.string(model) + Array(body[member.range.upperBound...])
    }
}
