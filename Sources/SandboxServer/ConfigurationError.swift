/// A server option that cannot be: what is wrong, in the option's words.
/// (Its own file: the fuzz target of `TrustedProxies`, Tests/Fuzz, builds it alone.)
public struct ConfigurationError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
