import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The service's side of the cgroup lifecycle. `CgroupDetector` makes the
/// parents at start; the launcher makes each run's `run-<pid>` child and
/// removes it; what a killed launcher could not remove, and the parents at
/// exit, are removed here, by `SandboxSupervisor`, which owns them.
extension CgroupPlan {
    /// Removes the run cgroups of a launcher that died by a signal. Blocks
    /// (up to two seconds) while the run's last processes are still dying:
    /// call it from a thread that may block.
    func removeRunCgroups(ofLauncher pid: pid_t, logger: Logger) {
        for parent in parents {
            let directory = "\(parent)/run-\(pid)"
            let deadline = ContinuousClock.now + .seconds(2)
            while rmdir(directory) != 0 && errno == EBUSY && ContinuousClock.now < deadline {
                usleep(10_000)
            }
            if access(directory, F_OK) == 0 {
                logger.warning("cgroup of a killed launcher not removed", metadata: ["path": "\(directory)", "errno": "\(errno)"])
            }
        }
    }

    /// Counts a user of the parents. Every `Sandbox` of one process shares
    /// them (they are named after the process), so they go with the last.
    func retainParents() {
        CgroupParentUsers.count.withLock { users in
            for parent in parents { users[parent, default: 0] += 1 }
        }
    }

    /// Ends a use of the parents, and removes those nobody else uses.
    func releaseParents(logger: Logger) {
        let unused = CgroupParentUsers.count.withLock { users in
            parents.filter { parent in
                users[parent, default: 1] -= 1
                guard users[parent] == 0 else { return false }
                users[parent] = nil
                return true
            }
        }
        for parent in unused where rmdir(parent) != 0 && errno != ENOENT {
            logger.warning("cgroup directory not removed", metadata: ["path": "\(parent)", "errno": "\(errno)"])
        }
    }
}

private enum CgroupParentUsers {
    static let count = Mutex<[String: Int]>([:])
}
