/// The editor's helper (`Python/assist/assist.py`, PROTOCOL.md §4.12–4.14):
/// completion, inspection and is-complete. Run as a run's program it takes
/// its request as JSON on stdin and answers JSON on stdout, with names from
/// the code alone; as a session's request (`RunRequest.Kind.assist`) it
/// answers with the session's names, looked up in a fork of its interpreter.
public enum AssistProgram {
    public static let source = String(decoding: PackageResources.assist_py, as: UTF8.self)
}
