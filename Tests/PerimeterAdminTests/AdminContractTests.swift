import Foundation
import PerimeterCore
import Testing

@testable import PerimeterAdminModels

/// The patterns the OpenAPI document declares and the server checks with: each compiles, and each
/// draws the line where the server's own rules do.
@Suite struct AdminContractTests {
    @Test func everyPatternCompiles() {
        for pattern in AdminContract.all { #expect(pattern.compiles, "\(pattern.source)") }
    }

    @Test(arguments: [(0, 0), (0, 9), (1, 9), (0, 30), (7, 123), (0, 720), (1, 2_592_000), (0, 3_162_240_000), (1, 5228)])
    func wholeNumberPatternsMatchExactlyTheirRange(minimum: Int, maximum: Int) {
        let pattern = TextPattern("^" + TextPattern.wholeNumber(minimum, maximum) + "$")
        var samples = Array(0...min(maximum + 20, 3000))
        for edge in [maximum - 1, maximum, maximum + 1, maximum * 10, maximum / 2, maximum / 10 + 1] where edge >= 0 {
            samples.append(edge)
        }
        for number in samples {
            #expect(pattern.matches(String(number)) == (minimum...maximum).contains(number), "\(number) in \(minimum)...\(maximum)")
        }
        #expect(!pattern.matches("0" + String(max(minimum, 1))), "no leading zeros")
        #expect(!pattern.matches(""))
    }

    @Test func durationsStopAtTheirBounds() {
        #expect(AdminContract.rotationGrace.matches("30d") && AdminContract.rotationGrace.matches("2592000s"))
        #expect(!AdminContract.rotationGrace.matches("31d") && !AdminContract.rotationGrace.matches("2592001s"))
        #expect(AdminContract.rotationGrace.matches("0s") && AdminContract.rotationGrace.matches("4w"))
        #expect(!AdminContract.rotationGrace.matches("5w") && !AdminContract.rotationGrace.matches("1.5h"))
        #expect(!AdminContract.rotationEvery.matches("0s") && AdminContract.rotationEvery.matches("1s"))
        #expect(AdminContract.rotationEvery.matches("5228w") && !AdminContract.rotationEvery.matches("5229w"))
        #expect(!AdminContract.rotationEvery.matches("30d\n") && !AdminContract.rotationEvery.matches(" 30d"))
    }

    @Test func secretNamesAgreeWithTheStore() {
        let names = [
            "a", "openai", "reload", "reloa", "reloads", "Reload", ".", "..", "...", ".env", "..x", "a/b", "", "a b",
            String(repeating: "x", count: 128), String(repeating: "x", count: 129), "é", "r-load", "relo.d",
        ]
        for name in names {
            let expected =
                !name.isEmpty && name.count <= 128 && name != "." && name != ".." && name != "reload"
                && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
            #expect(AdminContract.secretName.matches(name) == expected, "\(name)")
        }
    }

    @Test func providerNamesAgreeWithTheConfiguration() {
        let names = [
            "openai", "azure-east_2", "_0W", "-x", "0W", "", "é", "a b", "a/b", String(repeating: "p", count: 64),
            String(repeating: "p", count: 65),
        ]
        for name in names {
            #expect(AdminContract.providerName.matches(name) == PlainName.isValid(name, punctuation: "-_", maxLength: 64), "\(name)")
        }
        #expect(!AdminContract.providerName.matches("_0W") && AdminContract.providerName.matches("azure-east_2"))
    }

    @Test func addressesInTheirUsualForms() {
        for valid in [
            "10.0.0.0/8", "192.168.1.1", "0.0.0.0/0", "255.255.255.255/32", "::1", "::", "2001:db8::/32", "fe80::1:2:3:4/64",
            "1:2:3:4:5:6:7:8", "1::", "::ffff:1/128",
        ] {
            #expect(AdminContract.cidr.matches(valid), "\(valid)")
            #expect(CIDR(valid) != nil, "\(valid) must parse too")
        }
        for invalid in [
            "10.0.0.0/33", "256.1.1.1", "01.2.3.4", "1.2.3", "::1/129", "1:2:3:4:5:6:7:8:9", "[::1]", "fe80::1%eth0",
            "::ffff:1.2.3.4", "10.0.0.0/8\n", " 10.0.0.1", "", "a::g",
        ] {
            #expect(!AdminContract.cidr.matches(invalid), "\(invalid)")
        }
    }

    @Test func labelsRefuseControlCharactersAndBlankNames() throws {
        #expect(try AdminContract.label("  ci bot ", field: "name", maximum: 128) == "ci bot")
        #expect(try AdminContract.label("\u{3000}", field: "name", maximum: 128) == "\u{3000}")
        for bad in ["", "   ", "a\nb", "a\u{1b}[31m", "a\u{85}", String(repeating: "é", count: 129)] {
            #expect(throws: GatewayError.self) { try AdminContract.label(bad, field: "name", maximum: 128) }
        }
        #expect(try AdminContract.optionalLabel("  ", field: "owner", maximum: 128) == nil)
    }

    @Test func sinceTakesWindowsAndTimes() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(try AdminContract.since("15m", now: now) == now.addingTimeInterval(-900))
        #expect(try AdminContract.since("999999999999w", now: now) == now.addingTimeInterval(-TimeWindow.maximumSeconds))
        #expect(try AdminContract.since("2026-12-01T00:00:00Z", now: now) == Timestamp.parse("2026-12-01T00:00:00Z"))
        for bad in ["", "15", "1.5h", "-1h", "+1h", "1e3s", "15m\n", "2026-12-01", "yesterday"] {
            #expect(throws: GatewayError.self) { try AdminContract.since(bad, now: now) }
        }
    }
}
