/// A C function's signature read from its declaration text, such as
/// `double score(int64_t n, double weight, const char *label)`: the result type and each parameter's type.
///
/// The function and parameter names are optional and only shown back (`double (int64_t, double, const char *)`
/// reads the same). `(void)` and `()` both mean no parameters. What it refuses, naming the part: anything but the
/// types of ``NativeType`` (structs, typedefs other than the fixed-width ones, mutable pointers as parameters,
/// pointers to pointers), variadic functions, a `void` parameter, and text that is not a declaration.
public struct NativeSignature: Sendable, Hashable, CustomStringConvertible {
    /// One parameter: its type, the spelling it was declared with, and its name when given.
    public struct Parameter: Sendable, Hashable {
        public var type: NativeType
        public var spelling: String
        public var name: String?
    }

    public var result: NativeType
    public var resultSpelling: String
    /// The function's name when the declaration gives one.
    public var name: String?
    public var parameters: [Parameter]

    /// The longest declaration accepted, in bytes.
    public static let maximumLength = 1024
    /// The most parameters a native task may take.
    public static let maximumParameters = 32

    /// Parses `text`; throws a ``NativeError`` with code ``NativeError/Code/signature`` or
    /// ``NativeError/Code/unsupportedType`` naming what is wrong.
    public init(parsing text: String) throws(NativeError) {
        guard text.utf8.count <= Self.maximumLength else {
            throw NativeError(.signature, "the signature is longer than \(Self.maximumLength) bytes")
        }
        let tokens = try Self.tokens(text)
        guard let open = tokens.firstIndex(of: "("), tokens.last == ")" else {
            throw NativeError(.signature, "\"\(text)\" is not a C function declaration such as \"double f(int64_t)\"")
        }
        let head = try Self.declarator(Array(tokens[..<open]), what: "the result")
        guard head.type != .buffer else {
            throw NativeError(
                .unsupportedType,
                "a result of type \(head.spelling) is not supported (its length is unknown); return a string"
            )
        }
        var groups: [[String]] = [[]]
        for token in tokens[(open + 1)..<(tokens.count - 1)] {
            guard token != "(" && token != ")" else {
                throw NativeError(.signature, "function pointers are not supported in \"\(text)\"")
            }
            if token == "," { groups.append([]) } else { groups[groups.count - 1].append(token) }
        }
        var parameters: [Parameter] = []
        if !(groups.count == 1 && (groups[0].isEmpty || groups[0] == ["void"])) {
            for (position, group) in groups.enumerated() {
                let what = "parameter \(position + 1)"
                guard !group.isEmpty else { throw NativeError(.signature, "\(what) of \"\(text)\" is empty") }
                guard group != ["..."] else {
                    throw NativeError(.unsupportedType, "variadic functions are not supported (\"\(text)\")")
                }
                let parameter = try Self.declarator(group, what: what)
                guard parameter.type != .void else {
                    throw NativeError(.signature, "\(what) of \"\(text)\" is void; write (void) for no parameters")
                }
                guard parameter.spelling != "char *" else {
                    throw NativeError(
                        .unsupportedType,
                        "\(what) is a mutable char *: write const char * if the function only reads it "
                            + "(functions that write through a pointer are not supported)"
                    )
                }
                parameters.append(Parameter(type: parameter.type, spelling: parameter.spelling, name: parameter.name))
            }
        }
        guard parameters.count <= Self.maximumParameters else {
            throw NativeError(.signature, "\(parameters.count) parameters; the most is \(Self.maximumParameters)")
        }
        self.result = head.type
        self.resultSpelling = head.spelling
        self.name = head.name
        self.parameters = parameters
    }

    /// The declaration with the spellings as declared, one space between words: what `check` prints.
    public var description: String {
        func declared(_ spelling: String, _ name: String?) -> String {
            guard let name else { return spelling }
            return spelling.hasSuffix("*") ? spelling + name : spelling + " " + name
        }
        let list =
            parameters.isEmpty ? "void" : parameters.map { declared($0.spelling, $0.name) }.joined(separator: ", ")
        let head =
            name.map { declared(resultSpelling, $0) } ?? resultSpelling + (resultSpelling.hasSuffix("*") ? "" : " ")
        return "\(head)(\(list))"
    }

    /// Words that make up C type names; any other identifier in a declarator is its name.
    private static let typeWords: Set<String> = {
        var words: Set<String> = ["const", "*"]
        for spelling in NativeType.spellings.keys {
            for word in spelling.split(separator: " ") { words.insert(String(word)) }
        }
        return words
    }()

    /// A type followed by an optional name: `const char *label`, `uint32_t`, `double score`.
    private static func declarator(
        _ tokens: [String],
        what: String
    ) throws(NativeError) -> (type: NativeType, spelling: String, name: String?) {
        var words = tokens
        var name: String?
        if let last = words.last, !typeWords.contains(last), last.first.map(isIdentifierStart) == true, words.count > 1
        {
            name = last
            words.removeLast()
        }
        if let unknown = words.first(where: { !typeWords.contains($0) }) {
            let hint =
                unknown == "struct" || unknown == "union" || unknown == "enum"
                ? "structs, unions and enums are not supported"
                : "use a C type such as int32_t, uint64_t, size_t, double or const char *"
            throw NativeError(.unsupportedType, "\(what): unknown type \"\(unknown)\" (\(hint))")
        }
        let spelling = words.joined(separator: " ")
        guard let type = NativeType.spellings[spelling] else {
            throw NativeError(
                .unsupportedType,
                "\(what): \(spelling.isEmpty ? "no type" : "the type \"\(spelling)\" is not supported")"
                    + " (supported: fixed-width integers, int, long, size_t, float, double, bool, const char *, "
                    + "const void *)"
            )
        }
        return (type, spelling, name)
    }

    private static func tokens(_ text: String) throws(NativeError) -> [String] {
        var tokens: [String] = []
        var scalars = Array(text.unicodeScalars)[...]
        while let scalar = scalars.first {
            if scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" {
                scalars.removeFirst()
            } else if "*(),".unicodeScalars.contains(scalar) {
                tokens.append(String(scalar))
                scalars.removeFirst()
            } else if scalar == ".", scalars.starts(with: "...".unicodeScalars) {
                tokens.append("...")
                scalars.removeFirst(3)
            } else if isIdentifierStart(Character(scalar)) {
                let word = scalars.prefix { isIdentifierStart(Character($0)) || ("0"..."9").contains($0) }
                tokens.append(String(String.UnicodeScalarView(word)))
                scalars.removeFirst(word.count)
            } else {
                throw NativeError(.signature, "unexpected character \"\(scalar)\" in the signature \"\(text)\"")
            }
        }
        return tokens
    }

    private static func isIdentifierStart(_ character: Character) -> Bool {
        character == "_" || ("a"..."z").contains(character) || ("A"..."Z").contains(character)
    }
}
