import Foundation
import PerimeterCore
import PerimeterProviders
import PerimeterStorage

extension ProxyHandler {
    /// Decides whether the key may make this call: its policy (expiry, address, operation, model,
    /// tools), then its rates, then every budget the call counts toward, where the call's worst case is
    /// reserved before anything is forwarded.
    func admit(
        _ key: VirtualKey, facts: RequestFacts, bodySize: Int, endpoint: Endpoint, clientIP: String?, now: Date, into call: inout Call
    ) async throws {
        let callFacts = CallFacts(
            operation: endpoint.operation, model: facts.model, clientIP: clientIP.flatMap(IPAddress.init),
            toolNames: facts.toolNames, declaresTools: facts.hasTools)
        if let denial = Policy.evaluate(key.policy, call: callFacts, now: now) { throw denial }

        if key.policy.hasRateLimits {
            switch rateLimiter.admit(key, now: now) {
            case .success(let snapshot):
                call.rateLimits = snapshot
            case .failure(let error):
                call.rateLimits = rateLimiter.snapshot(key, now: now)
                throw error
            }
        }

        let claims = budgets.claims(for: key)
        guard !claims.isEmpty else { return }
        let model = facts.model ?? ""
        // The input ceiling: every body byte a token, plus what referenced media and files may add.
        let worstCase = OutputCeiling.worstCaseUsage(
            bodyBytes: max(bodySize, facts.inputTokenCeiling), maxOutputTokens: facts.maxOutputTokens, choices: facts.choices, model: model,
            operation: endpoint.operation)
        // A call that cannot be priced cannot be held to a budget, so it is not let through at the token
        // price alone: neither an unknown model nor a feature billed per use.
        if let feature = facts.perUseFeatures.first { throw GatewayError.featureUnpriced(feature) }
        guard worstCase.totalTokens > 0 else { return }
        guard let price = prices.price(for: model) else { throw GatewayError.priceUnknown(model) }
        let cost = price.cost(of: worstCase)
        if let denial = try await budgets.ledger.reserve(id: call.record.id, amount: cost, against: claims, at: now) {
            throw GatewayError.budgetExceeded(denial)
        }
        call.holdsReservation = true
        call.reserved = (worstCase, cost)
    }
}
