import HTTPTypes
import PerimeterCore
import PerimeterProviders

/// Which headers cross the gateway, in each direction.
enum UpstreamHeaders {
    /// Never forwarded upstream: the client's credentials, hop-by-hop headers, and headers that would
    /// let a client pick the provider account or get a body the meter cannot read.
    static let droppedOutbound: Set<String> = [
        "authorization", "x-api-key", "x-goog-api-key", "api-key", "host", "content-length", "connection", "keep-alive",
        "proxy-authorization",
        "proxy-authenticate", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "accept-encoding",
        "cookie", "openai-organization", "openai-project", "forwarded", "x-forwarded-for", "x-real-ip",
        // Would let a client change what the provider answers (a field mask that drops the usage, another method).
        "x-http-method-override", "x-http-method",
    ]

    /// Never returned to the client: hop-by-hop headers, upstream cookies and account details.
    static let droppedInbound: Set<String> = [
        "connection", "keep-alive", "transfer-encoding", "content-length", "set-cookie", "openai-organization",
        "openai-project", "proxy-authenticate", "trailer", "upgrade",
    ]

    static func outbound(from client: HTTPFields, kind: ProviderKind, credential: Secret?, hasBody: Bool, azure: Bool = false)
        -> HTTPFields
    {
        let named = Set(
            (client[.connection] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        var headers = HTTPFields()
        for field in client {
            let name = field.name.canonicalName
            if droppedOutbound.contains(name) || named.contains(name) { continue }
            // Google's system headers (`X-Goog-FieldMask`, `X-Goog-User-Project`, ...) are the client's to
            // send only to Google itself; the SDK's own `x-goog-api-client` passes.
            if name.hasPrefix("x-goog-"), name != "x-goog-api-client" { continue }
            // The client's own AWS signature parts (`X-Amz-Date`, `X-Amz-Security-Token`, ...) never go on:
            // the gateway signs with its credentials. Bedrock's `X-Amzn-Bedrock-*` options pass.
            if name.hasPrefix("x-amz-") { continue }
            // On Bedrock, Anthropic's version and betas go in the body.
            if kind == .bedrock, name == "anthropic-version" || name == "anthropic-beta" { continue }
            headers.append(field)
        }
        if let credential, azure {
            headers[HTTPField.Name("api-key")!] = credential.revealed
        } else if let credential {
            switch kind {
            case .openAI: headers[.authorization] = "Bearer " + credential.revealed
            case .anthropic: headers[HTTPField.Name("x-api-key")!] = credential.revealed
            case .gemini: headers[HTTPField.Name("x-goog-api-key")!] = credential.revealed
            // A Bedrock API key; a provider with AWS credentials signs the request instead.
            case .bedrock: headers[.authorization] = "Bearer " + credential.revealed
            }
        }
        if hasBody, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        headers[.acceptEncoding] = "identity"
        return headers
    }

    static func inbound(from upstream: HTTPFields, bodyChanges: Bool) -> HTTPFields {
        var headers = HTTPFields()
        for field in upstream where !droppedInbound.contains(field.name.canonicalName) {
            if bodyChanges, field.name == .contentEncoding { continue }
            headers.append(field)
        }
        return headers
    }
}

/// Keeps provider keys out of what clients see.
enum Redaction {
    static let placeholder = Array("[redacted]".utf8)

    static func redact(_ secret: Secret, in body: [UInt8]) -> [UInt8] {
        let needle = Array(secret.revealed.utf8)
        guard needle.count >= 8, body.count >= needle.count else { return body }
        var out: [UInt8] = []
        out.reserveCapacity(body.count)
        var index = 0
        while index < body.count {
            if body[index] == needle[0], index + needle.count <= body.count,
                body[index..<index + needle.count].elementsEqual(needle)
            {
                out.append(contentsOf: placeholder)
                index += needle.count
            } else {
                out.append(body[index])
                index += 1
            }
        }
        return out
    }

    /// `error.code` or `error.type` from an OpenAI- or Anthropic-shaped error body.
    static func upstreamErrorCode(_ body: [UInt8]) -> String? {
        guard let members = try? JSONScanner.topLevelMembers(of: body), let error = members["error"],
            case .object = error.kind,
            let inner = try? JSONScanner.topLevelMembers(of: Array(body[error.range]))
        else { return nil }
        for name in ["code", "type"] {
            if case .string(let value)? = inner[name]?.kind, !value.isEmpty { return value }
        }
        return nil
    }
}
