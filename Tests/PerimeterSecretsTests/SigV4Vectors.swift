import Foundation
import PerimeterCore
import Testing

@testable import PerimeterSecrets

/// AWS's published Signature Version 4 test vectors, each named after its file in the suite.
extension SigV4Vector {
    static let all: [SigV4Vector] = [
        // suite: get-vanilla
        SigV4Vector(
            name: "get-vanilla", url: "https://example.amazonaws.com/",
            creq: """
                GET
                /

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
            authz: publishedAuthz("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        ),
        // suite: get-vanilla-query-order-key-case
        SigV4Vector(
            name: "get-vanilla-query-order-key-case", query: "Param2=value2&Param1=value1",
            url: "https://example.amazonaws.com/?Param2=value2&Param1=value1",
            creq: """
                GET
                /
                Param1=value1&Param2=value2
                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"),
            authz: publishedAuthz("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
        ),
        // suite: get-vanilla-query-order-key (same name twice: sorted by value)
        SigV4Vector(
            name: "get-vanilla-query-order-key", query: "Param1=value2&Param1=Value1",
            url: "https://example.amazonaws.com/?Param1=value2&Param1=Value1",
            creq: """
                GET
                /
                Param1=Value1&Param1=value2
                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89"),
            authz: publishedAuthz("host;x-amz-date", "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1")
        ),
        // suite: get-vanilla-query-unreserved
        SigV4Vector(
            name: "get-vanilla-query-unreserved", query: "\(unreserved)=\(unreserved)",
            url: "https://example.amazonaws.com/?\(unreserved)=\(unreserved)",
            creq: """
                GET
                /
                \(unreserved)=\(unreserved)
                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177"),
            authz: publishedAuthz("host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")
        ),
        // suite: get-vanilla-utf8-query
        SigV4Vector(
            name: "get-vanilla-utf8-query", query: "\u{1234}=bar", url: "https://example.amazonaws.com/?%E1%88%B4=bar",
            creq: """
                GET
                /
                %E1%88%B4=bar
                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073"),
            authz: publishedAuthz("host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04")
        ),
        // v4 suite: get-query-plus ("+" is a literal plus, and a name alone gets "=")
        SigV4Vector(
            name: "get-query-plus", query: "c+d", url: "https://example.amazonaws.com/?c+d",
            creq: """
                GET
                /
                c%2Bd=
                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("4e8aace1e2037a6225f205f9cd633a67261068dede07745be24ece98db91f8eb"),
            authz: publishedAuthz("host;x-amz-date", "ae684ce3aadc299e3ac7d9216fcc039c7edf40dea57cf5b3005821dd2f176654")
        ),
        // suite: get-header-key-duplicate
        SigV4Vector(
            name: "get-header-key-duplicate",
            headers: [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
            url: "https://example.amazonaws.com/",
            creq: """
                GET
                /

                host:example.amazonaws.com
                my-header1:value2,value2,value1
                x-amz-date:20150830T123600Z

                host;my-header1;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c"),
            authz: publishedAuthz(
                "host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"
            )
        ),
        // suite: get-header-value-order
        SigV4Vector(
            name: "get-header-value-order",
            headers: [
                ("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2"),
            ],
            url: "https://example.amazonaws.com/",
            creq: """
                GET
                /

                host:example.amazonaws.com
                my-header1:value4,value1,value3,value2
                x-amz-date:20150830T123600Z

                host;my-header1;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86"),
            authz: publishedAuthz(
                "host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"
            )
        ),
        // suite: get-header-value-trim
        SigV4Vector(
            name: "get-header-value-trim", headers: [("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
            url: "https://example.amazonaws.com/",
            creq: """
                GET
                /

                host:example.amazonaws.com
                my-header1:value1
                my-header2:"a b c"
                x-amz-date:20150830T123600Z

                host;my-header1;my-header2;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7"),
            authz: publishedAuthz(
                "host;my-header1;my-header2;x-amz-date",
                "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"
            )
        ),
        // suite: get-unreserved
        SigV4Vector(
            name: "get-unreserved", path: "/\(unreserved)", url: "https://example.amazonaws.com/\(unreserved)",
            creq: """
                GET
                /\(unreserved)

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9"),
            authz: publishedAuthz("host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f")
        ),
        // suite: get-utf8. The published request line holds the raw character, which a URL would carry
        // percent-encoded, and AWS encodes the path as sent once more; so only the stages run here.
        SigV4Vector(
            name: "get-utf8", path: "/\u{1234}",
            creq: """
                GET
                /%E1%88%B4

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102"),
            authz: publishedAuthz("host;x-amz-date", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")
        ),
        // suite: normalize-path/get-space. A raw space in the request line, as for get-utf8.
        SigV4Vector(
            name: "get-space", path: "/example space/",
            creq: """
                GET
                /example%20space/

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86"),
            authz: publishedAuthz("host;x-amz-date", "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741")
        ),
        // suite: normalize-path/get-slashes
        SigV4Vector(
            name: "get-slashes", path: "//example//", url: "https://example.amazonaws.com//example//",
            creq: """
                GET
                /example/

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015"),
            authz: publishedAuthz("host;x-amz-date", "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84")
        ),
        // suite: normalize-path/get-relative-relative
        SigV4Vector(
            name: "get-relative-relative", path: "/example1/example2/../..",
            url: "https://example.amazonaws.com/example1/example2/../..",
            creq: """
                GET
                /

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"),
            authz: publishedAuthz("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        ),
        // suite: post-vanilla
        SigV4Vector(
            name: "post-vanilla", method: "POST", url: "https://example.amazonaws.com/",
            creq: """
                POST
                /

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS("553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87"),
            authz: publishedAuthz("host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b")
        ),
        // suite: post-x-www-form-urlencoded (the bazel copy: a later revision of the suite added Content-Length
        // to the .req and .creq but not to the .sts and .authz, which no longer match it)
        SigV4Vector(
            name: "post-x-www-form-urlencoded", method: "POST",
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: "Param1=value1",
            url: "https://example.amazonaws.com/",
            creq: """
                POST
                /

                content-type:application/x-www-form-urlencoded
                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                content-type;host;x-amz-date
                9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
                """,
            sts: publishedSTS("42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281"),
            authz: publishedAuthz(
                "content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
            )
        ),
        // suite: post-x-www-form-urlencoded-parameters (bazel copy)
        SigV4Vector(
            name: "post-x-www-form-urlencoded-parameters", method: "POST",
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf8")], body: "Param1=value1",
            url: "https://example.amazonaws.com/",
            creq: """
                POST
                /

                content-type:application/x-www-form-urlencoded; charset=utf8
                host:example.amazonaws.com
                x-amz-date:20150830T123600Z

                content-type;host;x-amz-date
                9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e
                """,
            sts: publishedSTS("2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c"),
            authz: publishedAuthz(
                "content-type;host;x-amz-date", "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"
            )
        ),
        // suite: post-sts-token/post-sts-header-before (the token is signed)
        SigV4Vector(
            name: "post-sts-header-before", method: "POST", url: "https://example.amazonaws.com/", token: suiteToken,
            creq: """
                POST
                /

                host:example.amazonaws.com
                x-amz-date:20150830T123600Z
                x-amz-security-token:\(suiteToken)

                host;x-amz-date;x-amz-security-token
                \(emptyHash)
                """,
            sts: publishedSTS("c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6"),
            authz: publishedAuthz(
                "host;x-amz-date;x-amz-security-token",
                "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"
            )
        ),
        // rust: double-encode-path (.sreq). The "%3D" sent in the path is encoded again, to "%253D".
        SigV4Vector(
            name: "double-encode-path", method: "POST", host: "tj9n5r0m12.execute-api.us-east-1.amazonaws.com",
            path: "/test/@connections/JBDvjfGEIAMCERw%3D",
            url: "https://tj9n5r0m12.execute-api.us-east-1.amazonaws.com/test/@connections/JBDvjfGEIAMCERw%3D",
            authz: publishedAuthz("host;x-amz-date", "6f871eb157f326fa5f7439eb88ca200048635950ce7d6037deda56f0c95d4364")
        ),
        // rust: double-url-encode (.authz), a Lambda invoke whose function ARN is percent-encoded in the path.
        SigV4Vector(
            name: "double-url-encode", method: "POST", host: "lambda.us-east-2.amazonaws.com",
            path: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A892717189312%3Afunction%3Amy-rusty-fun"
                + "/invocations",
            url: "https://lambda.us-east-2.amazonaws.com/2015-03-31/functions/"
                + "arn%3Aaws%3Alambda%3Aus-west-2%3A892717189312%3Afunction%3Amy-rusty-fun/invocations",
            region: "us-east-2", service: "lambda",
            date: Date(timeIntervalSince1970: 1_620_747_645), amzDate: "20210511T154045Z",
            authz: publishedAuthz(
                "host;x-amz-date", "4b93abbcc68be32bd64c18e2c71150660ab4c29bbd6c32a383a7517a88fc1804",
                scope: "20210511/us-east-2/lambda/aws4_request"
            )
        ),
        // iam: GET https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08
        SigV4Vector(
            name: "iam-list-users", host: "iam.amazonaws.com", query: "Action=ListUsers&Version=2010-05-08",
            headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            url: "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", service: "iam",
            creq: """
                GET
                /
                Action=ListUsers&Version=2010-05-08
                content-type:application/x-www-form-urlencoded; charset=utf-8
                host:iam.amazonaws.com
                x-amz-date:20150830T123600Z

                content-type;host;x-amz-date
                \(emptyHash)
                """,
            sts: publishedSTS(
                "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
                scope: "20150830/us-east-1/iam/aws4_request"
            ),
            authz: publishedAuthz(
                "content-type;host;x-amz-date", "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
                scope: "20150830/us-east-1/iam/aws4_request"
            )
        ),
    ]

    /// The vectors that `sign` can run from a URL.
    static var endToEnd: [SigV4Vector] { all.filter { $0.url != nil } }

    static let getVanilla = all[0]
}
