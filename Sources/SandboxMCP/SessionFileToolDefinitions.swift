import MCP

extension SessionFileTools {
    /// `session`, as each of the session tools takes it.
    static let sessionProperty: Value = [
        "type": "string",
        "description": """
            The session's name, as given to run_python's session (session: true there is "default"). Left out: \
            "default". Sessions belong to this MCP client.
            """,
    ]

    static let pathRules = """
        Paths are relative to the session's working directory /tmp ("/tmp/" may be written in front), without "..", \
        "." or empty parts; nothing outside /tmp can be named, and symbolic links are never followed.
        """

    /// The tools as `tools/list` shows them.
    public static func definitions(budget: ResultBudget) -> [Tool] {
        [
            Tool(
                name: listName,
                title: "List a session's files",
                description: """
                    Lists a folder of a run_python session's working directory (/tmp): one line per entry with its \
                    type (file, directory, symlink, other), its size in bytes and its name, sorted by name. The session \
                    must be open (opened by run_python with session, or by write_file); this tool never opens one. \
                    \(pathRules)
                    """,
                inputSchema: [
                    "type": "object",
                    "properties": [
                        "path": ["type": "string", "description": "The folder to list; left out: the working directory itself."],
                        "session": sessionProperty,
                    ],
                    "additionalProperties": false,
                ],
                annotations: .init(readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)),
            Tool(
                name: readName,
                title: "Read a session's file",
                description: """
                    Reads a file from a run_python session's working directory (/tmp), for instance one its code \
                    wrote. Text comes as text: at most \(budget.textBytes) bytes of it, cut at a line end with a note \
                    saying how much was left out and how to read on. PNG, JPEG, GIF and WebP images come as images \
                    (when they fit the result), other binary files as their size and type (and their base64 when at \
                    most \(RunReport.size(FileReadReport.smallBinaryBytes))). The session must be open (opened by \
                    run_python with session, or by write_file); this tool never opens one. \(pathRules)
                    """,
                inputSchema: [
                    "type": "object",
                    "properties": [
                        "path": ["type": "string", "description": "The file to read, e.g. \"out/result.csv\"."],
                        "session": sessionProperty,
                    ],
                    "required": ["path"],
                    "additionalProperties": false,
                ],
                annotations: .init(readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false)),
            Tool(
                name: writeName,
                title: "Write a file into a session",
                description: """
                    Writes a file into a run_python session's working directory (/tmp), replacing one of the same name \
                    and creating its folders, so that later run_python calls in that session can read it \
                    (open("data/input.csv")). If the session is not open, this opens it, as run_python with session \
                    would, with the service's default memory limit and no extra packages: to give the session packages \
                    or memoryMb, open it with run_python first (e.g. code "pass"). content is the file's text, or with \
                    encoding "base64" its bytes in base64. The file counts toward the session's /tmp space and toward \
                    the service's limit on one message (4 MiB unless configured). \(pathRules)
                    """,
                inputSchema: [
                    "type": "object",
                    "properties": [
                        "path": ["type": "string", "description": "Where to write, e.g. \"data/input.csv\"."],
                        "content": [
                            "type": "string",
                            "description": "The file's content: its text (written as UTF-8), or its bytes in base64 with encoding \"base64\".",
                        ],
                        "encoding": [
                            "type": "string", "enum": ["text", "base64"],
                            "description": "How content is given: \"text\" (the default) or \"base64\" (standard alphabet, padded).",
                        ],
                        "session": sessionProperty,
                    ],
                    "required": ["path", "content"],
                    "additionalProperties": false,
                ],
                annotations: .init(readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false)),
        ]
    }
}
