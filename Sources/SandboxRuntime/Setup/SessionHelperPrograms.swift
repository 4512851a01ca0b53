/// The files API's helper (`Python/session_files/session_files.py`,
/// PROTOCOL.md §4.16), run by a session as a request of its own kind
/// (`RunRequest.Kind.files`): JSON in on stdin, JSON out on stdout.
public enum SessionFilesProgram {
    public static let source = String(decoding: PackageResources.session_files_py, as: UTF8.self)
}

/// `session/fork`'s helper (`Python/session_state/session_state.py`,
/// PROTOCOL.md §4.15): in the original (`.capture`) it pickles `__main__`
/// and the working folder in a fork of its interpreter; in the copy
/// (`.restore`) it loads them.
public enum SessionStateProgram {
    public static let source = String(decoding: PackageResources.session_state_py, as: UTF8.self)
}
