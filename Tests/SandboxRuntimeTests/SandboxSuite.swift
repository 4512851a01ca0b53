import Testing

/// Every test that starts sandboxes lives under this suite and runs serially,
/// so that "no process of the run remains" can be checked host-wide.
@Suite(.serialized) struct SandboxSuite {}
