import ArgumentParser

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// sandboxd's environment, and the rule that turns it into options: every
/// option `--NAME` can also come from the variable `SANDBOXD_NAME` (capitals,
/// `_` for `-`), and the command line wins.
///
/// The variables become arguments placed before the command line, for the
/// options the command line leaves out, so that one parser (swift-argument-
/// parser's, from the options' declarations) reads both: no option is read
/// from the environment by hand. A list option's variable holds its values
/// separated by commas (or by `separators[name]`); a flag's variable turns it
/// on with `1`. An empty variable counts as unset; names are looked up in any
/// case, as Hummingbird's `Environment` did.
public struct OptionEnvironment: Sendable {
    private let variables: [String: String]

    public init(_ variables: [String: String] = ProcessInfo.processInfo.environment) {
        self.variables = Dictionary(variables.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
    }

    /// The variable's value; nil when it is unset or empty.
    public subscript(_ name: String) -> String? {
        variables[name.lowercased()].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The arguments the environment gives `Options`, for the options that
    /// `commandLine` does not name; each value is checked alone (by its
    /// type's `init(argument:)`, as the parser will), so that one that does
    /// not parse is said with its variable's name.
    public func arguments<Options: ParsableArguments>(
        for _: Options.Type, commandLine: [String], separators: [String: Character] = [:]
    ) throws -> [String] {
        var arguments: [String] = []
        for option in EnvironmentOption.all(in: Options.self) where !option.isNamed(in: commandLine) {
            guard let value = self[option.variable] else { continue }
            let separator = separators[option.name] ?? ","
            guard option.accepts(value, separator: separator) else {
                throw ValidationError("\(option.variable): '\(value)' is not \(option.kind)")
            }
            arguments += option.arguments(value, separator: separator)
        }
        return arguments
    }
}

/// One option as the environment sees it, found in the options' declarations.
public struct EnvironmentOption {
    public enum Form: Sendable, Equatable {
        /// On with `1`, off otherwise.
        case flag
        /// One value.
        case single
        /// Repeatable: values separated in one variable.
        case list
    }

    /// Its name on the command line, without `--`.
    public let name: String
    public let form: Form
    /// What a value must be, as an error says it: "an integer", "a number".
    let kind: String
    /// The type of its values (`Int` for `Int?` and `[Int]`); nil for a flag.
    let valueType: (any ExpressibleByArgument.Type)?

    /// `SANDBOXD_` and the name in capitals, `_` for `-`.
    public var variable: String {
        "SANDBOXD_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// Every option `Options` declares, its option groups' included, in order.
    public static func all(in options: any ParsableArguments.Type) -> [EnvironmentOption] {
        Mirror(reflecting: options.init()).children.flatMap { child -> [EnvironmentOption] in
            guard let label = child.label, label.hasPrefix("_") else { return [] }
            let name = commandLineName(String(label.dropFirst()))
            switch child.value {
            case let group as any ReflectedGroup:
                return all(in: type(of: group).arguments)
            case let option as any ReflectedOption:
                let declared = type(of: option).valueType
                let form: Form = declared is any ReflectedArray.Type ? .list : .single
                let value = ((declared as? any ReflectedContainer.Type)?.element ?? declared) as? any ExpressibleByArgument.Type
                let kind = value == Int.self ? "an integer" : value == Double.self || value == Seconds.self ? "a number" : "valid for --\(name)"
                return [EnvironmentOption(name: name, form: form, kind: kind, valueType: value)]
            case is Flag<Bool>:
                return [EnvironmentOption(name: name, form: .flag, kind: "a flag", valueType: nil)]
            default:
                return []
            }
        }
    }

    /// Whether `commandLine` gives this option itself (`--name value` or `--name=value`).
    func isNamed(in commandLine: [String]) -> Bool {
        let option = "--" + name
        return commandLine.contains { $0 == option || $0.hasPrefix(option + "=") }
    }

    /// The values a variable holds: a list's, separated and trimmed.
    func values(_ value: String, separator: Character) -> [String] {
        form == .list ? value.split(separator: separator).map { $0.trimmingCharacters(in: .whitespaces) } : [value]
    }

    /// Whether the parser takes the variable's values.
    func accepts(_ value: String, separator: Character) -> Bool {
        guard let valueType else { return true }
        return values(value, separator: separator).allSatisfy { valueType.init(argument: $0) != nil }
    }

    /// The arguments the variable stands for: `--name=value`, so that a
    /// value that starts with `-` is still a value (an empty one, which
    /// that form cannot give, as `--name ""`).
    func arguments(_ value: String, separator: Character) -> [String] {
        if form == .flag { return value == "1" ? ["--" + name] : [] }
        return values(value, separator: separator).flatMap { $0.isEmpty ? ["--" + name, ""] : ["--\(name)=\($0)"] }
    }

    /// swift-argument-parser's name for a property: `maxInFlight` is `max-in-flight`.
    static func commandLineName(_ property: String) -> String {
        property.reduce(into: "") { name, character in
            if character.isUppercase {
                name += "-" + character.lowercased()
            } else {
                name.append(character)
            }
        }
    }
}

/// What `EnvironmentOption.all` reads off swift-argument-parser's property wrappers.
protocol ReflectedGroup { static var arguments: any ParsableArguments.Type { get } }
protocol ReflectedOption { static var valueType: Any.Type { get } }

extension OptionGroup: ReflectedGroup {
    static var arguments: any ParsableArguments.Type { Value.self }
}

extension Option: ReflectedOption {
    static var valueType: Any.Type { Value.self }
}

/// `Int?` and `[String]`: an option's value type holds its values' type.
protocol ReflectedContainer { static var element: Any.Type { get } }
protocol ReflectedArray: ReflectedContainer {}

extension Optional: ReflectedContainer {
    static var element: Any.Type { Wrapped.self }
}

extension Array: ReflectedArray {
    static var element: Any.Type { Element.self }
}
