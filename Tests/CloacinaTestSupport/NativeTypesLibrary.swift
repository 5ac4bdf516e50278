import Foundation

/// `Tests/Fixtures/native/native_types.c`: plain C functions (no Cloacina types), one per type a native-signature
/// task supports, compiled by the tests with the system C compiler.
public enum NativeTypesLibrary {
    /// The C source.
    public static var source: String { "\(TestEnvironment.repositoryRoot)/Tests/Fixtures/native/native_types.c" }

    /// Compiles the library into `directory/fileName` (under a temporary name, renamed into place) and returns its
    /// path.
    @discardableResult
    public static func build(in directory: String, fileName: String = "native_types.so") throws -> String {
        let temporary = "\(directory)/.\(fileName).tmp"
        try compileC([source], output: temporary, flags: ["-shared", "-fPIC"])
        let destination = "\(directory)/\(fileName)"
        guard rename(temporary, destination) == 0 else {
            throw CompilerError(message: "cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        return destination
    }
}
