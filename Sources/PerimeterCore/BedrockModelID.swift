/// Bedrock's model ids as the names prices and output limits are listed under.
///
/// `us.anthropic.claude-sonnet-4-20250514-v1:0` is an inference profile (`us.`) of Anthropic's
/// `claude-sonnet-4-20250514` in Bedrock's versioning (`-v1:0`): it bills as `claude-sonnet-4`. Other
/// vendors' ids keep their vendor prefix (`amazon.nova-pro-v1:0`, `meta.llama3-3-70b-instruct-v1:0`),
/// since their names are Bedrock's own; only the inference profile's region goes.
public enum BedrockModelID {
    /// The geography prefixes of cross-region inference profiles.
    static let profilePrefixes = ["us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca."]

    /// The name `id` is priced under, or `nil` when it is not a Bedrock id that maps to another name.
    public static func priceName(_ id: String) -> String? {
        var name = Substring(id)
        if let prefix = profilePrefixes.first(where: { name.hasPrefix($0) }) { name = name.dropFirst(prefix.count) }
        if name.hasPrefix("anthropic.") {
            name = name.dropFirst("anthropic.".count)
            if let version = name.range(of: "-v", options: .backwards), isVersion(name[version.upperBound...]) {
                name = name[..<version.lowerBound]
            }
        }
        return name == id ? nil : String(name)
    }

    /// The vendor part of an id (`anthropic`, `meta`, `amazon`, ...), after any inference profile's region.
    public static func vendor(_ id: String) -> String? {
        var name = Substring(id)
        if let prefix = profilePrefixes.first(where: { name.hasPrefix($0) }) { name = name.dropFirst(prefix.count) }
        guard let dot = name.firstIndex(of: "."), dot != name.startIndex else { return nil }
        return String(name[..<dot])
    }

    /// `1`, `1:0`, `2:0`: Bedrock's model version after `-v`.
    private static func isVersion(_ text: Substring) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }
}
