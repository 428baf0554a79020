extension Finding {
    /// What a found key means for whoever holds it (`perimeter scan --sweep` on a laptop above all).
    public enum Classification: String, Sendable, CaseIterable {
        /// A Perimeter key: it belongs where it was found, and the gateway bounds what it can do.
        case managed
        /// The real provider key the gateway itself holds, outside the gateway: critical.
        case providerKeyHeldByGateway = "provider_key_held_by_gateway"
        /// Another raw provider key: replace it with a virtual key.
        case providerKey = "provider_key"
    }

    /// From what the gateway recognised (``managedKeyID``, ``credentialReference``); without a
    /// gateway, Perimeter's own key formats are still `managed` and everything else `provider_key`.
    public var classification: Classification {
        if managedKeyID != nil { return .managed }
        if credentialReference != nil { return .providerKeyHeldByGateway }
        return provider == Self.perimeterProvider ? .managed : .providerKey
    }

    /// The provider of the rules that match Perimeter's own keys (virtual keys, admin tokens).
    static let perimeterProvider = "Perimeter"
}
