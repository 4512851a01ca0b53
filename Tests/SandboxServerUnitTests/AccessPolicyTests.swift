import HTTPTypes
import Hummingbird
import Testing

@testable import SandboxServer

@Suite("AccessPolicy")
struct AccessPolicyTests {
    func request(_ path: String = "/v1/info", authority: String = "127.0.0.1:8765", headers: [(HTTPField.Name, String)] = []) -> Request {
        var fields = HTTPFields()
        for (name, value) in headers { fields.append(HTTPField(name: name, value: value)) }
        let head = HTTPRequest(method: .get, scheme: "http", authority: authority, path: path, headerFields: fields)
        return Request(head: head, body: .init(buffer: ByteBuffer()))
    }

    var guarded: AccessPolicy {
        var policy = AccessPolicy()
        policy.tokens = ["first-token", "second-token"]
        return policy
    }

    @Test func withoutTokensEveryoneWithoutAForeignOriginIsLetIn() {
        #expect(AccessPolicy().check(request()) == nil)
    }

    @Test func aTokenIsTakenFromTheHeaderTheQueryOrTheCookie() {
        #expect(guarded.check(request(headers: [(.authorization, "Bearer second-token")])) == nil)
        #expect(guarded.check(request(headers: [(.authorization, "bearer  first-token ")])) == nil)
        #expect(guarded.check(request("/v1/info?token=first-token")) == nil)
        #expect(guarded.check(request(headers: [(.cookie, "other=1; pysandbox_token=first%2Dtoken")])) == nil)
    }

    @Test func aMissingOrWrongTokenIsRefusedAsSuch() {
        #expect(guarded.check(request()) == .missingToken)
        #expect(guarded.check(request(headers: [(.authorization, "Basic Zm9vOmJhcg==")])) == .missingToken)
        #expect(guarded.check(request(headers: [(.authorization, "Bearer first-toke")])) == .wrongToken)
        #expect(guarded.check(request("/v1/info?token=")) == .wrongToken)
    }

    /// Cross-site WebSocket hijacking: a page from elsewhere may not use the service, whatever it carries.
    @Test func originsOtherThanTheServicesOwnAreRefusedFirst() {
        let own = request(headers: [(.origin, "http://127.0.0.1:8765"), (.authorization, "Bearer first-token")])
        #expect(guarded.check(own) == nil)
        let foreign = request(headers: [(.origin, "https://evil.example"), (.authorization, "Bearer first-token")])
        #expect(guarded.check(foreign) == .foreignOrigin("https://evil.example"))
        #expect(AccessPolicy().check(request(headers: [(.origin, "null")])) == .foreignOrigin("null"))
        // Two Origin headers: judged by the worst.
        let both = request(headers: [(.origin, "http://127.0.0.1:8765"), (.origin, "http://evil.example")])
        #expect(AccessPolicy().check(both) == .foreignOrigin("http://evil.example"))
        // Not a browser: WebSocket libraries send ws:// origins, which no page can forge.
        #expect(AccessPolicy().check(request(headers: [(.origin, "ws://127.0.0.1:8765")])) == nil)
    }

    @Test func allowedOriginsAndTheWildcard() {
        var policy = AccessPolicy()
        policy.allowedOrigins = ["https://class.example"]
        #expect(policy.allows(origin: "https://class.example", host: "127.0.0.1:8765"))
        #expect(!policy.allows(origin: "https://other.example", host: "127.0.0.1:8765"))
        #expect(!policy.allows(origin: "ftp://127.0.0.1:8765", host: "127.0.0.1:8765"))
        policy.allowedOrigins = ["*"]
        #expect(policy.allows(origin: "https://other.example", host: nil))
    }

    @Test func metricsTakeTheirOwnBearerTokenOnly() {
        var policy = guarded
        policy.metricsToken = "metrics-token"
        #expect(policy.checkMetrics(request("/metrics", headers: [(.authorization, "Bearer metrics-token")])) == nil)
        #expect(policy.checkMetrics(request("/metrics", headers: [(.authorization, "Bearer first-token")])) == .wrongToken)
        #expect(policy.checkMetrics(request("/metrics?token=metrics-token")) == .missingToken)
    }

    /// By default a service with tokens asks one for its metrics too; `open` asks none.
    @Test func metricsNeedTheServicesTokenUnlessTheyHaveTheirOwnOrAreOpen() {
        var policy = guarded
        #expect(policy.checkMetrics(request("/metrics")) == .missingToken)
        #expect(policy.checkMetrics(request("/metrics", headers: [(.authorization, "Bearer second-token")])) == nil)
        #expect(policy.checkMetrics(request("/metrics", headers: [(.authorization, "Bearer third-token")])) == .wrongToken)
        #expect(AccessPolicy().checkMetrics(request("/metrics")) == nil, "a service without tokens")
        policy.metrics = .open
        #expect(policy.checkMetrics(request("/metrics")) == nil)
    }

    @Test func constantTimeComparisonIsStillAComparison() {
        #expect(ConstantTime.equal("secret", "secret"))
        #expect(!ConstantTime.equal("secret", "secreT"))
        #expect(!ConstantTime.equal("secret", "secret-and-more"))
        #expect(!ConstantTime.equal("secret", ""))
        #expect(!ConstantTime.equal("", ""))
    }

    @Test func hostNamesAreTheServicesOwnOrAllowed() {
        var policy = AccessPolicy()
        policy.listenHost = "sandbox.internal"
        policy.allowedHosts = ["Public.Example.org"]
        for host in ["127.0.0.1:8765", "[::1]:8765", "10.0.0.7", "localhost:8765", "a.localhost", "sandbox.internal:8765",
                     "public.example.org", "PUBLIC.EXAMPLE.ORG:443"] {
            #expect(policy.checkHost(request(authority: host)) == nil, "\(host)")
        }
        for host in ["evil.example", "evil.example:8765", "localhost.evil.example", "127.0.0.1.nip.io", "sandbox.internal.evil"] {
            #expect(policy.checkHost(request(authority: host)) == .foreignHost(host), "\(host)")
        }
        policy.allowedHosts = ["*"]
        #expect(policy.checkHost(request(authority: "evil.example")) == nil)
    }

    @Test func aHostThatIsNoHostAndPortOrASecondHostIsRefusedAsUnclear() {
        let policy = AccessPolicy()
        for host in ["[::1", "::1", "[::1]x", "[::1]:x", "[evil.example]", "localhost:abc", "localhost:123456", "localhost..", "."] {
            #expect(policy.checkHost(request(authority: host)) == .unclearHost("Host '\(host)' is not host[:port]"), "\(host)")
        }
        let twice = request(authority: "localhost", headers: [(AccessPolicy.hostField, "evil.example")])
        #expect(policy.checkHost(twice) == .unclearHost("more than one Host header"))
        // A trailing dot, capitals, an empty port: the same names.
        for host in ["localhost.", "LOCALHOST", "[::1]", "localhost:", "a.localhost.:8765", ""] {
            #expect(policy.checkHost(request(authority: host)) == nil, "\(host)")
        }
        #expect(AccessPolicy.host(of: "Example.org.:443") == .name("Example.org"))
        #expect(AccessPolicy.host(of: "[::1]:8765") == .address("::1"))
    }
}
