import Foundation
import PerimeterCore
import PerimeterStorage
import Synchronization

/// Admin identities in memory, by token digest, for the admin API's authentication.
package final class AdminAuthority: Sendable {
    private let tokens: Mutex<[KeyDigest: AdminToken]>

    package init(tokens: [AdminToken]) {
        self.tokens = Mutex(Dictionary(tokens.map { ($0.digest, $0) }, uniquingKeysWith: { _, last in last }))
    }

    /// The active identity for `presented` (the Bearer token), or `nil`.
    package func authenticate(_ presented: String?) -> AdminToken? {
        guard let presented, !presented.isEmpty else { return nil }
        let digest = KeyDigest(of: presented)
        guard let token = tokens.withLock({ $0[digest] }), token.revokedAt == nil else { return nil }
        return token
    }

    /// The active identity whose token has `digest` (a console session's), or `nil` once revoked.
    package func authenticate(digest: KeyDigest) -> AdminToken? {
        guard let token = tokens.withLock({ $0[digest] }), token.revokedAt == nil else { return nil }
        return token
    }

    package func add(_ token: AdminToken) {
        tokens.withLock { $0[token.digest] = token }
    }
}
