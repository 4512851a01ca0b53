import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging

/// The web editor at `GET /`: its own files, and CodeMirror 5 from where
/// Debian's `libjs-codemirror` installs it, at `/vendor/codemirror/`. The
/// page loads nothing from anywhere else; when CodeMirror is missing it
/// falls back to a plain textarea and says so.
enum WebEditor {
    static let codeMirrorBasePath = "/vendor/codemirror"

    static func install(
        on router: Router<SandboxRequestContext>, configuration: ServerConfiguration, tokenCookie: TokenCookieMiddleware, logger: Logger
    ) {
        guard let root = configuration.webRoot ?? bundledRoot else {
            logger.warning("the web editor's files are missing; GET / serves nothing")
            return
        }
        if !FileManager.default.fileExists(atPath: configuration.codeMirrorPath + "/lib/codemirror.js") {
            logger.notice("CodeMirror not found; the editor falls back to a plain textarea (apt install libjs-codemirror)",
                          metadata: ["path": "\(configuration.codeMirrorPath)"])
        }
        // Content-Security-Policy and X-Content-Type-Options: nosniff, from Hummingbird.
        router.add(middleware: ContentSecurityMiddleware(contentSecurityPolicy: PageSecurityHeaders.contentSecurityPolicy))
        router.add(middleware: PageSecurityHeaders())
        // `/?token=`: the cookie and the redirect, with the page's headers.
        router.add(middleware: tokenCookie)
        // Revalidated on every load (ETag), so a new sandboxd never serves a stale page.
        router.add(middleware: FileMiddleware(
            root, cacheControl: .init([(MediaType(type: .any), [.noCache])]), searchForIndexHtml: true, logger: logger))
        router.add(middleware: FileMiddleware(
            configuration.codeMirrorPath, urlBasePath: codeMirrorBasePath,
            cacheControl: .init([(MediaType(type: .any), [.maxAge(86_400)])]), logger: logger))
    }

    /// The editor's files as built into sandboxd.
    static var bundledRoot: String? {
        guard let assets = Bundle.module.url(forResource: "Assets", withExtension: nil) else { return nil }
        return assets.path
    }
}

/// What a browser is told about every response: load scripts, styles and
/// connections only from this service, never be framed by another site
/// (Hummingbird's `ContentSecurityMiddleware` sends the policy and `nosniff`),
/// send no referrer. Errors that routes throw (`HTTPResponseError`) become
/// their responses here, so that these headers reach them too.
struct PageSecurityHeaders: RouterMiddleware {
    typealias Context = SandboxRequestContext

    static let contentSecurityPolicy: ContentSecurityPolicy = [
        .defaultSrc(.self), .scriptSrc(.self), .styleSrc(.self), .imgSrc(.self, "data:"), .connectSrc(.self),
        .frameAncestors(.none), .baseURI(.none), .formAction(.none),
    ]
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        response.headers[Self.referrerPolicy] = "no-referrer"
        return response
    }
}
