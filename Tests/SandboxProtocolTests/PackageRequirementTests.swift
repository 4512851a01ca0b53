import SandboxProtocol
import Testing

/// Requirement strings of the `packages` parameter: PEP 508 names, extras and
/// version specifiers, and nothing that could select files or installer options.
@Suite("Package requirements")
struct PackageRequirementTests {
    @Test(arguments: [
        ("requests", "requests"),
        ("Requests", "requests"),
        ("  requests  ", "requests"),
        ("Django_REST.framework", "django-rest-framework"),
        ("zope.interface>=5", "zope-interface>=5"),
        ("requests[socks]", "requests[socks]"),
        ("requests[Security, SOCKS,socks]", "requests[security,socks]"),
        ("requests >= 2.31 , < 3", "requests>=2.31,<3"),
        ("numpy==1.*", "numpy==1.*"),
        ("numpy!=1.24.*", "numpy!=1.24.*"),
        ("pandas~=2.1", "pandas~=2.1"),
        ("pandas~=2.1.0", "pandas~=2.1.0"),
        ("foo===1.0-custom", "foo===1.0-custom"),
        ("foo==1.0+local.7", "foo==1.0+local.7"),
        ("foo==1!2.0.post3.dev4", "foo==1!2.0.post3.dev4"),
        ("foo<=2.0rc1", "foo<=2.0rc1"),
        ("foo>1.0a1", "foo>1.0a1"),
        ("foo==v1.0", "foo==v1.0"),
        ("foo==1.0-1", "foo==1.0-1"),
        ("a", "a"),
        ("x1", "x1"),
    ])
    func accepted(_ text: String, _ canonical: String) throws {
        let requirement = try PackageRequirement(parsing: text)
        #expect(requirement.canonical == canonical, "\(text)")
    }

    @Test func partsAreKept() throws {
        let requirement = try PackageRequirement(parsing: "Requests[socks]>=2.31,<3")
        #expect(requirement.name == "Requests")
        #expect(requirement.normalizedName == "requests")
        #expect(requirement.extras == ["socks"])
        #expect(requirement.specifiers.map(\.op) == [.greaterOrEqual, .less])
        #expect(requirement.specifiers.map(\.version) == ["2.31", "3"])
    }

    @Test(arguments: [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("-e .", "installer options"),
        ("--index-url=https://evil.example/simple", "installer options"),
        ("-r requirements.txt", "installer options"),
        ("requests; python_version>'3'", "environment markers"),
        ("requests ; os_name == 'nt'", "environment markers"),
        ("requests @ https://evil.example/requests.whl", "URLs"),
        ("requests@git+https://x", "URLs"),
        ("git+https://github.com/psf/requests", "URLs"),
        ("file:///etc/passwd", "URLs"),
        ("./mypackage", "paths"),
        ("../x", "paths"),
        ("/tmp/x.whl", "paths"),
        ("dir/pkg", "paths"),
        ("C:\\pkg", "paths"),
        ("~/pkg", "paths"),
        ("evil.whl", "names a file"),
        ("evil-1.0.tar.gz", "names a file"),
        ("evil.zip", "names a file"),
        ("requests (>=2.0)", "parenthesised"),
        ("==1.0", "does not start with a package name"),
        ("[socks]", "does not start with a package name"),
        ("_private", "not a valid package name"),
        ("requests-", "not a valid package name"),
        ("requests.", "not a valid package name"),
        ("requests[", "no closing"),
        ("requests[]", "an empty extra"),
        ("requests[socks,]", "an empty extra"),
        ("requests[so$ks]", "not a valid extra name"),
        ("requests>=", "has no version"),
        ("requests>=2,", "empty clause"),
        ("requests,>=2", "empty clause"),
        ("requests>=2.0 <3", "not a PEP 440 version"),
        ("requests=2.0", "does not start with"),
        ("requests 2.0", "does not start with"),
        ("req uests", "does not start with"),
        ("requests>=latest", "not a PEP 440 version"),
        ("requests>=2.*", "not a PEP 440 version"),
        ("requests~=2", "at least two release numbers"),
        ("requests~=2.*", "not a PEP 440 version"),
        ("requests>=1.0+local", "not a PEP 440 version"),
        ("requests==1.0+", "not a PEP 440 version"),
        ("requests==1..0", "not a PEP 440 version"),
        ("requests===1.0 x", "is not a version"),
        ("requests===$id", "is not a version"),
        ("requests --hash=sha256:abc", "does not start with"),
        ("requests --no-binary=:all:", "does not start with"),
        ("requests\n--index-url=https://evil.example", "U+000A"),
        ("requests\t>=2", "U+0009"),
        ("requests\u{0}", "U+0000"),
        ("requests\r", "U+000D"),
        ("reqυests", "U+03C5"),
        ("requests\u{200B}", "U+200B"),
        ("requests\u{FF1E}=2", "U+FF1E"),
        ("requests\u{1B}[31m", "U+001B"),
    ])
    func refused(_ text: String, _ because: String) {
        do {
            let requirement = try PackageRequirement(parsing: text)
            Issue.record("'\(text)' was accepted as \(requirement)")
        } catch {
            #expect(error.description.contains(because), "\(text): \(error)")
            #expect(error.description.hasPrefix("requirement '"), "the message names the requirement: \(error)")
            #expect(error.description.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) }, "\(error)")
        }
    }

    @Test func theMessageNamesTheRequirementSafely() {
        #expect(throws: PackageRequirementError(requirement: "requests\\u{a}x", reason: .character(0x0A))) {
            try PackageRequirement(parsing: "requests\nx")
        }
        let long = String(repeating: "a", count: 500)
        do {
            _ = try PackageRequirement(parsing: long)
            Issue.record("a 500-character name was accepted")
        } catch {
            #expect(error.reason == .tooLong(limit: 200))
            #expect(error.requirement.count < 100)
        }
    }

    @Test func lengthLimit() throws {
        let name = String(repeating: "a", count: 200)
        _ = try PackageRequirement(parsing: name)
        #expect(throws: PackageRequirementError.self) { try PackageRequirement(parsing: name + "b") }
        #expect(throws: PackageRequirementError.self) { try PackageRequirement(parsing: "abc", maxLength: 2) }
    }

    @Test func aSetIsCanonical() throws {
        let one = try PackageRequirementSet(parsing: ["tqdm", "Requests[socks]>=2"])
        let two = try PackageRequirementSet(parsing: ["requests[socks] >= 2", "TQDM"])
        #expect(one.canonicalLines == ["requests[socks]>=2", "tqdm"])
        #expect(one == two)
        #expect(try PackageRequirementSet(parsing: []).isEmpty)
    }

    @Test func aSetRefusesDuplicatesAndTooMany() {
        #expect(throws: PackageRequirementError(requirement: "Requests<3", reason: .duplicate("requests"))) {
            try PackageRequirementSet(parsing: ["requests>=2", "Requests<3"])
        }
        #expect(throws: PackageRequirementError(requirement: "zope_interface", reason: .duplicate("zope-interface"))) {
            try PackageRequirementSet(parsing: ["zope.interface", "zope_interface"])
        }
        let many = (0..<33).map { "p\($0)" }
        #expect(throws: PackageRequirementError(requirement: "p32", reason: .tooMany(limit: 32))) {
            try PackageRequirementSet(parsing: many)
        }
        #expect(throws: PackageRequirementError.self) {
            try PackageRequirementSet(parsing: ["a", "b", "c"], limits: PackageRequirementLimits(maxLength: 10, maxCount: 2))
        }
        #expect(throws: PackageRequirementError(requirement: "a;b", reason: .marker)) {
            try PackageRequirementSet(parsing: ["ok", "a;b"])
        }
    }

    /// Whatever is written, what reaches the installer is a name and specifiers:
    /// never something that starts like an option or a path.
    @Test func noAcceptedInputLooksLikeAnOptionOrPath() {
        var generator = SplitMix(seed: 24)
        let alphabet = Array("aZ09-_.[],=<>!~*+ ;@/\\:'\"$()\t\n\u{0}é")
        var accepted = 0
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 16)
            let text = String((0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
            guard let requirement = try? PackageRequirement(parsing: text) else { continue }
            accepted += 1
            let canonical = requirement.canonical
            #expect(canonical.first?.isLetter == true || canonical.first?.isNumber == true, "\(text) -> \(canonical)")
            #expect(!canonical.contains { " ;@/\\:'\"$()\t\n\u{0}é".contains($0) }, "\(text) -> \(canonical)")
            #expect((try? PackageRequirement(parsing: canonical))?.canonical == canonical, "\(canonical) parses to itself")
        }
        #expect(accepted > 100)
    }
}

/// A small deterministic generator for the fuzz loop above.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
