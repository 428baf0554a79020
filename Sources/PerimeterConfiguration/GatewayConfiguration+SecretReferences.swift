import PerimeterSecrets

extension GatewayConfiguration {
    /// Every secret reference of the configuration, with what uses it.
    package var secretReferences: [(reference: SecretReference, usedBy: [String])] {
        var users: [SecretReference: [String]] = [:]
        var order: [SecretReference] = []
        func add(_ reference: SecretReference, _ user: String) {
            if users[reference] == nil { order.append(reference) }
            users[reference, default: []].append(user)
        }
        for provider in providers {
            if let reference = provider.apiKey { add(reference, "provider:\(provider.name)") }
            if let reference = provider.adminKey { add(reference, "provider:\(provider.name) (admin_key)") }
            if let reference = provider.entra?.clientSecret { add(reference, "provider:\(provider.name) (entra)") }
            for (reference, field) in provider.aws?.references ?? [] { add(reference, "provider:\(provider.name) (\(field))") }
        }
        if case .reference(let reference) = adminToken { add(reference, "admin_token") }
        if let reference = databasePassword { add(reference, "database_password") }
        return order.map { ($0, users[$0]!) }
    }
}
