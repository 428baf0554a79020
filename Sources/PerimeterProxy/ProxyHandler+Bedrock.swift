import Foundation
import HTTPTypes
import PerimeterCore
import PerimeterProviders
import PerimeterSecrets

extension ProxyHandler {
    /// `headers` with an AWS SigV4 signature for the call, made with the provider's credentials as they
    /// are now. The client's own signature headers never reach here (see ``UpstreamHeaders``).
    func signed(
        _ headers: HTTPFields, method: HTTPRequest.Method, url: String, body: [UInt8], with aws: AWSSigningSettings,
        provider: ProviderRoute
    ) async throws -> HTTPFields {
        guard let parsed = URL(string: url) else { throw GatewayError.upstreamUnreachable(provider: provider.name) }
        let signer: SigV4Signer
        do {
            if let chain = provider.awsChain {
                signer = SigV4Signer(credentials: try await chain.credentials(), region: aws.region, service: aws.service)
            } else {
                signer = try await aws.signer(resolver: secrets)
            }
        } catch {
            throw GatewayError.secretUnavailable(provider: provider.name)
        }
        // Only headers Bedrock reads are signed; the others go along unsigned, so no value a client chose
        // can make AWS compute another signature (and echo its canonical request in the error).
        let fields = headers.filter { Self.signedHeader($0.name.canonicalName) }.map { (name: $0.name.rawName, value: $0.value) }
        var out = HTTPFields()
        for field in signer.sign(method: method.rawValue, url: parsed, headers: fields, body: body, date: Date()) {
            guard let name = HTTPField.Name(field.name) else { continue }
            out.append(HTTPField(name: name, value: field.value))
        }
        for field in headers where !Self.signedHeader(field.name.canonicalName) { out.append(field) }
        return out
    }

    static func signedHeader(_ name: String) -> Bool {
        name == "content-type" || name == "accept" || name.hasPrefix("x-amzn-bedrock-")
    }

    /// What of a Bedrock error body may reach the client: the AWS account's identities (`arn:aws:iam::
    /// 123456789012:user/...`, an assumed role's session) and the credentials the call was signed with
    /// are redacted; AWS names them in AccessDenied and signature errors.
    func redactingAWS(_ body: [UInt8], provider: ProviderRoute) async -> [UInt8] {
        var body = body
        if let aws = provider.aws {
            for reference in [aws.accessKeyID, aws.sessionToken].compactMap({ $0 }) {
                if let secret = try? await secrets.secret(for: reference) { body = Redaction.redact(secret, in: body) }
            }
        }
        if let chain = provider.awsChain, let credentials = try? await chain.credentials() {
            body = Redaction.redact(Secret(credentials.accessKeyID), in: body)
            if let token = credentials.sessionToken { body = Redaction.redact(token, in: body) }
        }
        var text = String(decoding: body, as: UTF8.self)
        for pattern in [#"arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[^\s"',]*"#, #"\b[0-9]{12}\b"#] {
            text = text.replacingOccurrences(of: pattern, with: "[redacted]", options: .regularExpression)
        }
        return Array(text.utf8)
    }

    /// The upstream URL and body of an Anthropic client's Messages call on a Bedrock provider: InvokeModel
    /// (streamed or not) of the Bedrock id the provider maps the model to, with Anthropic's body as Bedrock
    /// takes it. Only Messages is served this way (Bedrock's token counting is another API).
    func anthropicOnBedrock(
        _ body: [UInt8], facts: RequestFacts, endpoint: Endpoint, provider: ProviderRoute, headers: HTTPFields
    ) throws -> (target: String, body: [UInt8]) {
        guard endpoint.operation == .messages, let model = facts.model, let id = provider.anthropicModels[model] else {
            throw GatewayError.notFound("Provider \(provider.name) serves Anthropic's Messages API only, not \(endpoint.path).")
        }
        let betas = headers[values: HTTPField.Name("anthropic-beta")!].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let action = facts.isStream ? "invoke-with-response-stream" : "invoke"
        return (
            provider.baseURL + BedrockRoute.upstreamPath(model: id, action: action),
            try AnthropicOnBedrock.requestBody(body, betas: betas)
        )
    }
}
