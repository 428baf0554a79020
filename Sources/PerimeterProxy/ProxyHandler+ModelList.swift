import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PerimeterCore
import PerimeterProviders
import PerimeterSecrets

extension ProxyHandler {
    /// `GET /v1/models` over several providers of one wire format: each is asked at once (one that
    /// fails is left out), and the answers are merged by model id in configuration order and filtered by
    /// the key's models. An Azure resource lists the models it has deployments for, not Azure's catalogue.
    func mergedModelList(
        of providers: [ProviderRoute], request: Request, endpoint: Endpoint, policy: KeyPolicy, call: Call, logger: Logger
    ) async -> Response {
        var call = call
        call.sentUpstream = .now
        let bodies = await withTaskGroup(of: (Int, [UInt8]).self) { group in
            for (index, provider) in providers.enumerated() {
                group.addTask { (index, await self.modelListBody(of: provider, request: request, endpoint: endpoint, logger: logger)) }
            }
            var answers: [(Int, [UInt8])] = []
            for await answer in group { answers.append(answer) }
            return answers.sorted { $0.0 < $1.0 }.map(\.1)
        }
        var merged: [String: Any] = [:]
        var entries: [Any] = []
        var seen: Set<String> = []
        for body in bodies {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
                let data = object["data"] as? [Any]
            else { continue }
            if merged.isEmpty { merged = object }
            for entry in data {
                guard let id = (entry as? [String: Any])?["id"] as? String, policy.allowsModel(id), seen.insert(id).inserted else {
                    continue
                }
                entries.append(entry)
            }
        }
        merged["data"] = entries
        if merged["object"] == nil, endpoint.kind == .openAI { merged["object"] = "list" }
        if endpoint.kind == .anthropic {
            merged["has_more"] = false
            merged["first_id"] = ((entries.first as? [String: Any])?["id"]) ?? NSNull()
            merged["last_id"] = ((entries.last as? [String: Any])?["id"]) ?? NSNull()
        }
        let bytes = Array((try? JSONSerialization.data(withJSONObject: merged, options: [.sortedKeys])) ?? Data("{}".utf8))
        call.record.status = 200
        call.record.outcome = .ok
        await finish(call)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        call.rateLimits?.apply(to: &headers)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// One provider's model list, or nothing when it cannot be had.
    private func modelListBody(of provider: ProviderRoute, request: Request, endpoint: Endpoint, logger: Logger) async -> [UInt8] {
        if let azure = provider.azure { return Self.deploymentList(azure, owner: provider.name) }
        // A provider may take no key (a self-hosted server); one whose key cannot be had is left out.
        let credential: Secret?
        do {
            credential = try await self.credential(for: provider, logger: logger)
        } catch {
            return []
        }
        let upstreamRequest = UpstreamRequest(
            method: .get, url: provider.baseURL + endpoint.upstreamPath(for: "/v1/models"),
            headers: UpstreamHeaders.outbound(from: request.headers, kind: provider.kind, credential: credential, hasBody: false),
            body: nil, operation: .models, facts: RequestFacts())
        guard let response = try? await provider.upstream.send(upstreamRequest) else {
            logger.notice("model list left out: provider unreachable", metadata: ["perimeter.provider": "\(provider.name)"])
            return []
        }
        let body = await collectBody(response.body, limit: 8 << 20)
        return response.status == 200 ? body : []
    }

    static func deploymentList(_ azure: AzureResource, owner: String) -> [UInt8] {
        let data = azure.deployments.keys.sorted().map { ["id": $0, "object": "model", "created": 0, "owned_by": owner] as [String: Any] }
        return Array((try? JSONSerialization.data(withJSONObject: ["object": "list", "data": data], options: [.sortedKeys])) ?? Data())
    }
}
