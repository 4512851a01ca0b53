import Testing

/// Every test that starts sandboxes lives under this suite and runs serially,
/// so that "no process of the run remains" can be checked host-wide.
/// A test case still running after its time limit is reported by name as it
/// passes the limit, so that a hang names itself instead of ending CI
/// silently (the longest case took 66 s in CI; most take under 10).
@Suite(.serialized, .timeLimit(.minutes(4))) struct SandboxSuite {}
