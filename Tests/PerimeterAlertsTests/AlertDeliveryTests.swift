import Foundation
import PerimeterCore
import Testing

@testable import PerimeterAlerts

@Suite struct AlertDeliveryTests {
    @Test func webhookSignaturesAreHMACOverTimeAndBody() throws {
        let body = Array(#"{"id":"alr_1"}"#.utf8)
        let time = Date(timeIntervalSince1970: 1_790_000_000)
        let header = AlertDispatcher.signature(body: body, key: Secret("whsec"), time: time)
        // HMAC-SHA256 of `1790000000.{"id":"alr_1"}` under "whsec", computed independently (Python's hmac
        // module and `openssl dgst -sha256 -hmac whsec` agree).
        #expect(header == "t=1790000000,v1=7abd915494f07cd8c4e7345aeefb853ce31e0a8e393341f32096ffef0c23d142")
        #expect(AlertDispatcher.signature(body: body, key: Secret("other"), time: time) != header)
    }
}
