import Synchronization

/// The tenants a running server knows: the directory it started with, and
/// each one a reload replaces it with. Whoever serves a token for longer
/// than a request (a WebSocket connection) watches it, and hears when a
/// reload removes it.
final class TenantBook: Sendable {
    private struct State {
        var directory: TenantDirectory
        var watchers: [TokenDigest: [UInt64: AsyncStream<Void>.Continuation]] = [:]
        var nextWatcher: UInt64 = 0
    }

    private let state: Mutex<State>

    init(_ directory: TenantDirectory) {
        state = Mutex(State(directory: directory))
    }

    var directory: TenantDirectory { state.withLock { $0.directory } }

    /// What a reload changed.
    struct Replacement: Sendable {
        /// Tokens in the old directory and not in the new; their connections were told.
        var removedTokens: Int
        /// Tenants in the old directory and not in the new.
        var removedTenants: [String]
    }

    /// Puts `directory` in the old one's place and tells the watchers of every token it leaves out.
    func replace(with directory: TenantDirectory) -> Replacement {
        let (old, revoked) = state.withLock { state -> (TenantDirectory, [AsyncStream<Void>.Continuation]) in
            let old = state.directory
            state.directory = directory
            var revoked: [AsyncStream<Void>.Continuation] = []
            for digest in Array(state.watchers.keys) where directory.tenant(digest: digest) == nil {
                revoked += state.watchers.removeValue(forKey: digest).map { Array($0.values) } ?? []
            }
            return (old, revoked)
        }
        for watcher in revoked {
            watcher.yield()
            watcher.finish()
        }
        let kept = Set(directory.tenants.flatMap(\.tokenDigests))
        let names = Set(directory.tenants.map(\.name))
        return Replacement(
            removedTokens: old.tenants.flatMap(\.tokenDigests).filter { !kept.contains($0) }.count,
            removedTenants: old.tenants.map(\.name).filter { !names.contains($0) })
    }

    /// Yields once, and ends, when a reload removes `digest`; ends when the
    /// caller stops listening (its task cancelled).
    func revocation(of digest: TokenDigest) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        let id = state.withLock { state -> UInt64? in
            guard state.directory.tenant(digest: digest) != nil else { return nil }
            state.nextWatcher += 1
            state.watchers[digest, default: [:]][state.nextWatcher] = continuation
            return state.nextWatcher
        }
        guard let id else {
            // Removed before it was watched.
            continuation.yield()
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { state in
                state.watchers[digest]?[id] = nil
                if state.watchers[digest]?.isEmpty == true { state.watchers[digest] = nil }
            }
        }
        return stream
    }
}
