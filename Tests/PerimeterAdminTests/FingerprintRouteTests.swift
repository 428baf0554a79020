import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PerimeterCore
import PerimeterGatewayTesting
import Testing

@testable import PerimeterAdmin

@Suite struct FingerprintRouteTests {
    @Test func answersKeyedFingerprintsOfEveryKeyAndNoSecret() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (id, key) = try await TestGateway.createKey(client, name: "leaky", env: "dev")
            let salt = KeyFingerprint.makeSalt()
            let body = ByteBuffer(string: #"{"salt":"\#(Hex.encode(salt))"}"#)
            try await client.execute(uri: "/admin/v1/fingerprints", method: .post, headers: TestGateway.adminHeaders, body: body) {
                response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(!text.contains(key) && !text.contains(KeyDigest(of: key).hex))
                let keys = try #require(try TestGateway.json(response.body)["keys"] as? [[String: Any]])
                let row = try #require(keys.first { $0["id"] as? String == id })
                #expect(row["fingerprint"] as? String == KeyFingerprint.fingerprint(of: KeyDigest(of: key), salt: salt))
            }
            for bad in [#"{"salt":"abc"}"#, #"{"salt":"\#(String(repeating: "zz", count: 32))"}"#, "{}"] {
                try await client.execute(
                    uri: "/admin/v1/fingerprints", method: .post, headers: TestGateway.adminHeaders, body: ByteBuffer(string: bad)
                ) { response in
                    #expect(response.status == .badRequest, "\(bad)")
                }
            }
            try await client.execute(uri: "/admin/v1/fingerprints", method: .post, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }
}
