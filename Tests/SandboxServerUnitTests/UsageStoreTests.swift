import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import SandboxServer

/// The SQLite store on a real file: totals by tenant and day, lasting past
/// the store that wrote them, and shared by two stores on one file.
@Suite("Usage stores")
struct UsageStoreTests {
    static let monday = UTCDay("2026-12-07")!
    static let tuesday = UTCDay("2026-12-08")!

    static func withFolder(_ body: (String) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("usage-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try await body(folder)
    }

    static func exercise(_ first: any UsageStore, _ second: any UsageStore) async throws {
        let written = try await first.add([
            UsageDelta(tenant: "school", day: monday, counts: UsageCounts(runs: 2, cpuMs: 300, sessions: 1)),
            UsageDelta(tenant: "lab", day: monday, counts: UsageCounts(runs: 1, cpuMs: 50)),
        ], reading: monday)
        #expect(written["school"] == UsageTotals(allTime: UsageCounts(runs: 2, cpuMs: 300, sessions: 1), day: monday, onDay: UsageCounts(runs: 2, cpuMs: 300, sessions: 1)))
        // The other node adds to the same day; both see the sum.
        let shared = try await second.add([UsageDelta(tenant: "school", day: monday, counts: UsageCounts(runs: 1, cpuMs: 700))], reading: monday)
        #expect(shared["school"]?.onDay == UsageCounts(runs: 3, cpuMs: 1000, sessions: 1))
        #expect(shared["lab"]?.onDay == UsageCounts(runs: 1, cpuMs: 50))
        let nextDay = try await first.add([UsageDelta(tenant: "school", day: tuesday, counts: UsageCounts(runs: 1, cpuMs: 5))], reading: tuesday)
        #expect(nextDay["school"] == UsageTotals(allTime: UsageCounts(runs: 4, cpuMs: 1005, sessions: 1), day: tuesday, onDay: UsageCounts(runs: 1, cpuMs: 5)))
        #expect(nextDay["lab"]?.onDay == .zero && nextDay["lab"]?.allTime == UsageCounts(runs: 1, cpuMs: 50))
    }

    @Test func aSQLiteFileKeepsUsageAcrossStoresAndIsItsOwnersOnly() async throws {
        try await Self.withFolder { folder in
            let path = folder + "/state/usage.sqlite"
            try await Self.exercise(try SQLiteUsageStore(path: path), try SQLiteUsageStore(path: path))
            let reopened = try SQLiteUsageStore(path: path)
            let totals = try await reopened.add([], reading: Self.monday)
            #expect(totals["school"]?.allTime == UsageCounts(runs: 4, cpuMs: 1005, sessions: 1))
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
    }

    @Test func theMemoryStoreCountsAsTheFileDoes() async throws {
        let store = MemoryUsageStore()
        try await Self.exercise(store, store)
    }

    @Test func aStoreThatCannotBeMadeSaysWhere() async throws {
        try await Self.withFolder { folder in
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: folder + "/file", contents: Data("x".utf8))
            let error = try #require(throws: UsageStoreError.self) { try SQLiteUsageStore(path: folder + "/file/usage.sqlite") }
            #expect(error.description == folder + "/file: not a folder", "\(error)")
            let open = folder + "/open"
            try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
            chmod(open, 0o777)
            let shared = try #require(throws: UsageStoreError.self) { try SQLiteUsageStore(path: open + "/usage.sqlite") }
            #expect(shared.description.hasPrefix(open + ": writable by someone other than its owner"), "\(shared)")
            #expect(!FileManager.default.fileExists(atPath: open + "/usage.sqlite"))
            let notADatabase = folder + "/not.sqlite"
            FileManager.default.createFile(atPath: notADatabase, contents: Data(repeating: 0x41, count: 4096))
            let garbled = try #require(throws: UsageStoreError.self) { try SQLiteUsageStore(path: notADatabase) }
            #expect(garbled.description.contains("not a database"), "\(garbled)")
        }
        #expect(UsageStateLocation(parsing: "none") == .memory)
        #expect(UsageStateLocation(parsing: "postgres://u:secret@db/x") == .postgres("postgres://u:secret@db/x"))
        #expect(UsageStateLocation(parsing: "postgres://u:secret@db/x").description == "postgres://u:***@db/x")
        #expect(UsageStateLocation(parsing: "/var/lib/x.sqlite") == .sqlite("/var/lib/x.sqlite"))
    }
}
