/// A limit a run may choose (the schema's `limitPair`): what it gets when
/// it does not ask, the most it may ask for, and the least. sandboxd's
/// options set `default` and `max`; `min` is the protocol's (`RunParams`).
public struct LimitPair: Sendable, Equatable, Codable {
    public var `default`: Int
    public var max: Int
    /// Absent from servers before 0.6.0.
    public var min: Int?

    public init(default: Int, max: Int, min: Int? = nil) {
        self.default = `default`
        self.max = max
        self.min = min
    }
}
