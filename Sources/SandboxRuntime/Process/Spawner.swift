#if canImport(Glibc)
import Glibc
#endif

/// Starts a program with chosen descriptors at 0, 1, 2, ... via posix_spawn:
/// a clean signal state, its own process group, an explicit environment.
enum Spawner {
    /// `descriptors[i]` becomes fd `i` in the child. The caller keeps ownership
    /// of the passed descriptors and closes them after the call.
    static func spawn(path: String, arguments: [String], environment: [String], descriptors: [CInt]) throws(SpawnError) -> pid_t {
        // Lift every source above the targets first, so no dup2 clobbers a later source.
        var lifted: [CInt] = []
        defer { lifted.forEach { close($0) } }
        for fd in descriptors {
            let copy = fcntl(fd, F_DUPFD_CLOEXEC, CInt(descriptors.count))
            guard copy >= 0 else { throw SpawnError(step: "fcntl(F_DUPFD_CLOEXEC)", errno: errno) }
            lifted.append(copy)
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, source) in lifted.enumerated() {
            posix_spawn_file_actions_adddup2(&actions, source, CInt(target))
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SpawnError(step: "posix_spawn \(path)", errno: result) }
        return pid
    }
}
