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

/// A Bedrock resource ARN a client may give as `modelId`:
/// `arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0`,
/// `arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0`,
/// or an account's own resource (`application-inference-profile/a1b2c3d4e5f6`, `provisioned-model/...`).
public struct BedrockARN: Sendable, Hashable {
    public var partition: String
    public var region: String
    public var account: String
    public var resourceType: String
    public var resourceID: String

    /// The resource types a model id may name.
    static let resourceTypes: Set<String> = [
        "foundation-model", "inference-profile", "application-inference-profile", "provisioned-model", "custom-model",
        "imported-model", "custom-model-deployment", "prompt",
    ]

    /// Parses `text` strictly: a known partition and resource type, a region of letters, digits and
    /// dashes, an empty or 12-digit account, and an id of plain-name characters and `/`.
    public init?(_ text: String) {
        let fields = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count == 6, fields[0] == "arn", ["aws", "aws-cn", "aws-us-gov"].contains(fields[1]), fields[2] == "bedrock",
            !fields[3].isEmpty, fields[3].allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }),
            fields[4].isEmpty || (fields[4].count == 12 && fields[4].allSatisfy { $0.isASCII && $0.isNumber }),
            let slash = fields[5].firstIndex(of: "/")
        else { return nil }
        let type = String(fields[5][..<slash])
        let id = String(fields[5][fields[5].index(after: slash)...])
        guard Self.resourceTypes.contains(type),
            id.split(separator: "/", omittingEmptySubsequences: false).allSatisfy({
                PlainName.isValid(String($0), punctuation: "-._:", maxLength: 200)
            }), text.utf8.count <= 400
        else { return nil }
        (partition, region, account, resourceType, resourceID) = (String(fields[1]), String(fields[3]), String(fields[4]), type, id)
    }

    /// The plain model id this ARN stands for, when it names one that is the same in every account: a
    /// foundation model, or a system-defined (cross-region) inference profile. `nil` for an account's
    /// own resource, whose model only the account knows.
    public var modelID: String? {
        switch resourceType {
        case "foundation-model", "inference-profile": resourceID.contains("/") ? nil : resourceID
        default: nil
        }
    }
}
