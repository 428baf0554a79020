import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PerimeterGatewayTesting
import Testing

@testable import PerimeterConsole

/// The console's files: all embedded, served with a strict policy, nothing from a third party, and
/// nothing at all with `console.enabled: false`.
@Suite struct ConsoleAssetTests {
    static let assetDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/PerimeterConsole/Assets")

    static func sources() throws -> [String: String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: assetDirectory.path)
        return try Dictionary(
            uniqueKeysWithValues: names.map { ($0, try String(contentsOf: assetDirectory.appendingPathComponent($0), encoding: .utf8)) })
    }

    @Test func everyFileOfTheAssetFolderIsServedAndNothingElse() throws {
        let sources = try Self.sources()
        #expect(Set(sources.keys) == Set(ConsoleAssets.files.keys))
        for (name, text) in sources { #expect(ConsoleAssets.files[name]?.bytes == Array(text.utf8), "\(name) is embedded as it is") }
    }

    /// The policy forbids inline script and style; this keeps the files from needing them, and keeps
    /// every reference local.
    @Test func theFilesNeedNoInlineScriptNoStyleAttributeAndNoOtherOrigin() throws {
        for (name, original) in try Self.sources() {
            // The SVG namespace is a name, never fetched.
            let text = original.replacing("http://www.w3.org/2000/svg", with: "")
            #expect(!text.contains("http://"), "\(name) names another origin")
            let external = text.ranges(of: "https://").count
            #expect(external == 0, "\(name) names another origin")
            #expect(
                !text.contains("innerHTML") && !text.contains("outerHTML") && !text.contains("insertAdjacentHTML"), "\(name) writes HTML")
            #expect(!text.contains("eval(") && !text.contains("new Function"), "\(name) evaluates text")
            #expect(!text.contains("localStorage") && !text.contains("sessionStorage"), "\(name) stores data in the browser")
        }
        let html = try #require(try Self.sources()["index.html"])
        #expect(!html.contains("<script>") && !html.contains("style=") && !html.contains(" onclick"))
        #expect(html.matches(of: /(?:src|href)="([^"#]+)"/).allSatisfy { $0.output.1.hasPrefix("/console/") })
        for match in html.matches(of: /(?:src|href)="\/console\/([^"#]+)"/) {
            #expect(ConsoleAssets.files[String(match.output.1)] != nil, "index.html names \(match.output.1)")
        }
        for (name, text) in try Self.sources() where name.hasSuffix(".js") {
            for match in text.matches(of: /from '\.\/([^']+)'/) {
                #expect(ConsoleAssets.files[String(match.output.1)] != nil, "\(name) imports \(match.output.1)")
            }
        }
    }

    @Test func thePageIsServedWithAStrictPolicyAndRevalidated() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            try await client.execute(uri: "/console", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body).contains("/console/app.js"))
            }
            let etag = try await client.execute(uri: "/console/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                let policy = try #require(response.headers[.contentSecurityPolicy])
                #expect(
                    policy.contains("default-src 'self'") && policy.contains("script-src 'self'")
                        && policy.contains("frame-ancestors 'none'"))
                #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
                #expect(response.headers[HTTPField.Name("x-frame-options")!] == "DENY")
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(String(buffer: response.body).contains("app.js"))
                return try #require(response.headers[.eTag])
            }
            try await client.execute(uri: "/console/", method: .get, headers: [.ifNoneMatch: etag]) { response in
                #expect(response.status == .notModified)
            }
            try await client.execute(uri: "/console/app.js", method: .get) { response in
                #expect(response.status == .ok && response.headers[.contentType] == "text/javascript; charset=utf-8")
            }
            for missing in ["/console/nothing.js", "/console/..%2FPackage.swift", "/console/a/b"] {
                try await client.execute(uri: missing, method: .get) { response in #expect(response.status == .notFound, "\(missing)") }
            }
        }
    }

    @Test func turnedOffTheConsoleServesNothingAndSignsNobodyIn() async throws {
        let app = try await TestGateway.make(demo: true) { $0.console.enabled = false }
        try await app.test(.router) { client in
            for uri in ["/console/", "/console/app.js"] {
                try await client.execute(uri: uri, method: .get) { response in #expect(response.status == .notFound, "\(uri)") }
            }
            try await client.execute(
                uri: "/admin/v1/session", method: .post, headers: [.contentType: "application/json"],
                body: .init(string: #"{"token":"\#(TestGateway.adminToken)"}"#)
            ) { response in #expect(response.status == .notFound || response.status == .methodNotAllowed) }
        }
    }
}
