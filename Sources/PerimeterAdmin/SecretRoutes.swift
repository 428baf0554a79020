import Foundation
import Hummingbird
import Logging
import PerimeterAdminModels
import PerimeterCore
import PerimeterProxy
import PerimeterSecrets
import PerimeterStorage

/// `/admin/v1/secrets`: the built-in encrypted store (put, rotate, list, delete) and a forced reload
/// of every cached secret. Values go in only; no route ever answers with one.
package struct SecretRoutes: Sendable {
    let builtIn: BuiltInSecretStore
    let resolver: SecretResolver
    let references: [(reference: SecretReference, usedBy: [String])]
    let audit: AdminAudit

    package init(
        builtIn: BuiltInSecretStore, resolver: SecretResolver, references: [(reference: SecretReference, usedBy: [String])],
        audit: AdminAudit
    ) {
        self.builtIn = builtIn
        self.resolver = resolver
        self.references = references
        self.audit = audit
    }

    struct ValueBody: Decodable {
        var value: String

        enum CodingKeys: String, CodingKey, CaseIterable { case value }

        init(from decoder: any Decoder) throws {
            try decoder.refuseUnknownKeys(of: CodingKeys.self)
            value = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .value)
        }
    }

    struct SecretView: Codable {
        var name: String
        var reference: String
        var version: Int
        var versions: Int
        var createdAt: String
        var updatedAt: String
        var usedBy: [String]

        enum CodingKeys: String, CodingKey {
            case name, reference, version, versions
            case createdAt = "created_at"
            case updatedAt = "updated_at"
            case usedBy = "used_by"
        }
    }

    /// Registers the routes on the authenticated admin group.
    package func register(on authenticated: RouterGroup<GatewayContext>) {
        authenticated.get("secrets") { _, _ in
            try AdminRoutes.json(ListEnvelope(data: try await builtIn.list().map(view)))
        }
        authenticated.put("secrets/:name") { request, context in
            try await write(request, context: context, action: "put") { name, value in
                try await builtIn.put(name: name, value: value)
            }
        }
        authenticated.post("secrets/:name/rotate") { request, context in
            try await write(request, context: context, action: "rotate") { name, value in
                try await builtIn.rotate(name: name, value: value)
            }
        }
        authenticated.delete("secrets/:name") { request, context in
            let name = try Self.name(context)
            do {
                try await builtIn.delete(name: name)
            } catch let error as BuiltInSecretStoreError {
                throw Self.gatewayError(error)
            }
            try await audit.record("secret.delete", target: "store:\(name)", request: request, context: context)
            await refreshIfUsed(name)
            return try AdminRoutes.json(DeletedView(name: name))
        }
        authenticated.post("secrets/reload") { request, context in
            let checks = await resolver.refreshAll()
            try await audit.record(
                "secret.reload", target: nil,
                details: ["references": .number(Int64(checks.count)), "failed": .number(Int64(checks.filter { !$0.ok }.count))],
                request: request, context: context)
            return try AdminRoutes.json(ListEnvelope(data: checks.map { SecretCheckRow($0, usedBy: usedBy($0.reference)) }))
        }
    }

    struct DeletedView: Encodable {
        var name: String
        var deleted = true
    }

    private func write(
        _ request: Request, context: GatewayContext, action: String,
        _ operation: (String, Secret) async throws -> SealedSecretSummary
    ) async throws -> Response {
        let name = try Self.name(context)
        let body = try await AdminRoutes.decode(ValueBody.self, from: request, expecting: "'value' (the secret, as a string)")
        let summary: SealedSecretSummary
        do {
            summary = try await operation(name, Secret(body.value))
        } catch let error as BuiltInSecretStoreError {
            throw Self.gatewayError(error)
        } catch let error as SealedSecretStoreError {
            throw GatewayError.conflict(error.description)
        }
        try await audit.record(
            "secret.\(action)", target: "store:\(name)", details: ["version": .number(Int64(summary.latestVersion))],
            request: request, context: context)
        await refreshIfUsed(name)
        return try AdminRoutes.json(view(summary), status: summary.versions == 1 ? .created : .ok)
    }

    /// A put, rotate or delete takes effect on the next request of every provider using the secret.
    private func refreshIfUsed(_ name: String) async {
        let reference = SecretReference(scheme: "store", path: name)
        if resolver.knownReferences.contains(reference) {
            await resolver.refresh(reference)
        }
    }

    private func view(_ summary: SealedSecretSummary) -> SecretView {
        let reference = SecretReference(scheme: "store", path: summary.name)
        return SecretView(
            name: summary.name, reference: reference.description, version: summary.latestVersion, versions: summary.versions,
            createdAt: Timestamp.format(summary.createdAt), updatedAt: Timestamp.format(summary.updatedAt),
            usedBy: usedBy(reference))
    }

    private func usedBy(_ reference: SecretReference) -> [String] {
        references.first { $0.reference == reference }?.usedBy ?? []
    }

    private static func name(_ context: GatewayContext) throws -> String {
        let name = try context.parameters.require("name").removingPercentEncoding ?? ""
        guard SecretReference.isValidStoreName(name), AdminContract.secretName.matches(name) else {
            throw GatewayError.invalidRequest(BuiltInSecretStoreError.invalidName(name).description)
        }
        return name
    }

    private static func gatewayError(_ error: BuiltInSecretStoreError) -> GatewayError {
        switch error {
        case .exists, .noSharedMasterKey: .conflict(error.description)
        case .notFound: .notFound(error.description)
        case .invalidName, .emptyValue, .tooLarge: .invalidRequest(error.description)
        }
    }
}
