import Synchronization

/// The methods each registered path answers, for telling "no such path" (404) from "not with this
/// method" (405 with `Allow`). Filled once the router's routes are all registered; read only for
/// requests that matched no route, never on the proxy's path.
package final class RouteIndex: Sendable {
    private struct Route {
        /// `nil` for a `{parameter}` or wildcard segment, which matches any one segment.
        var segments: [Substring?]
        var methods: Set<String>
    }

    private let routes = Mutex<[Route]>([])

    package init() {}

    /// Takes the router's routes as (method, path) pairs, the path as Hummingbird describes it
    /// (`/admin/v1/keys/{id}`).
    package func load(_ entries: [(method: String, path: String)]) {
        var byPath: [String: Set<String>] = [:]
        for entry in entries { byPath[entry.path, default: []].insert(entry.method) }
        let loaded = byPath.map { path, methods in
            Route(
                segments: path.split(separator: "/").map { $0.contains("{") || $0.contains("*") || $0.hasPrefix(":") ? nil : $0 },
                methods: methods)
        }
        routes.withLock { $0 = loaded }
    }

    /// The methods `path` answers, sorted; empty when no route has this path. Like the router's trie,
    /// a segment that matches a route's constant segment never reaches a parameter beside it, so
    /// `/secrets/reload` answers only what the `reload` route does, not what `/secrets/{name}` does.
    package func allowedMethods(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        let methods = routes.withLock { routes in
            var candidates = routes.filter { $0.segments.count == segments.count }
            for (index, segment) in segments.enumerated() {
                let constant = candidates.filter { $0.segments[index] == segment }
                candidates = constant.isEmpty ? candidates.filter { $0.segments[index] == nil } : constant
            }
            return candidates.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
        }
        return methods.sorted()
    }
}
