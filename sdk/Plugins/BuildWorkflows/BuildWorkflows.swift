import Foundation
import PackagePlugin

/// `swift package build-workflows [--product NAME]... [--output DIR]`
///
/// Builds workflow products (dynamic library products) in release mode and installs each `.so` into a drop
/// directory atomically: the file is written under a hidden temporary name in the same directory, then renamed,
/// so a host scanning the directory never sees half a file. Products whose targets are all C are compiled with the
/// system C compiler, so the result depends on libc alone and keeps loading when the host's Swift toolchain
/// changes; Swift products are built by SwiftPM. Only the two ABI entry points are exported from either.
@main
struct BuildWorkflows: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        var extractor = ArgumentExtractor(arguments)
        let requested = extractor.extractOption(named: "product")
        let outputs = extractor.extractOption(named: "output")
        if extractor.extractFlag(named: "help") > 0 {
            print(Self.usage)
            return
        }
        guard extractor.remainingArguments.isEmpty else {
            throw PluginError(
                "unexpected arguments \(extractor.remainingArguments.joined(separator: " "))\n\(Self.usage)"
            )
        }
        guard outputs.count <= 1 else { throw PluginError("give --output at most once") }

        let packageDirectory = context.package.directoryURL
        let output =
            outputs.first.map { URL(fileURLWithPath: $0, relativeTo: packageDirectory).standardizedFileURL }
            ?? packageDirectory.appendingPathComponent(".cloacina/workflows")
        let products = try selectProducts(in: context.package, requested: requested)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)

        let exportMap = context.pluginWorkDirectoryURL.appendingPathComponent("cloacina-exports.map")
        try Self.exportMapText.write(to: exportMap, atomically: true, encoding: .utf8)

        for product in products {
            let library: URL
            if let compiler = Self.cCompiler(), Self.isPlainC(product) {
                Diagnostics.progress("Compiling \(product.name) (C) with \(compiler.lastPathComponent)")
                library = try compileC(product, compiler: compiler, exportMap: exportMap, context: context)
            } else {
                Diagnostics.progress("Building \(product.name) in release mode")
                library = try buildWithSwiftPM(product, exportMap: exportMap)
            }
            let installed = try Self.install(library, into: output)
            print("installed \(installed.path)")
        }
    }

    static let usage = """
        usage: swift package --allow-writing-to-package-directory build-workflows [--product NAME]... [--output DIR]
          --product NAME  build only this workflow product (repeatable; default: every dynamic library product)
          --output DIR    drop directory to install into (default: .cloacina/workflows in the package)
        """

    /// Keeps only the two ABI entry points global; everything else in the package stays private to it.
    static let exportMapText = """
        {
          global: cloacina_package_info; cloacina_package_init;
          local: *;
        };

        """

    private func selectProducts(in package: Package, requested: [String]) throws -> [LibraryProduct] {
        let dynamic = package.products.compactMap { $0 as? LibraryProduct }.filter { $0.kind == .dynamic }
        guard !requested.isEmpty else {
            guard !dynamic.isEmpty else {
                throw PluginError(
                    "package \(package.displayName) has no workflow products; declare one with "
                        + ".library(name: \"MyWorkflows\", type: .dynamic, targets: [\"MyWorkflows\"])"
                )
            }
            return dynamic
        }
        return try requested.map { name in
            guard let product = dynamic.first(where: { $0.name == name }) else {
                let known = dynamic.map(\.name).joined(separator: ", ")
                throw PluginError("no workflow product named \(name) (dynamic library products: \(known))")
            }
            return product
        }
    }

    private func buildWithSwiftPM(_ product: LibraryProduct, exportMap: URL) throws -> URL {
        var parameters = PackageManager.BuildParameters(configuration: .release, logging: .concise)
        parameters.otherLinkerFlags = ["--version-script=\(exportMap.path)"]
        let result = try packageManager.build(.product(product.name), parameters: parameters)
        guard result.succeeded else {
            throw PluginError("building \(product.name) failed:\n\(result.logText)")
        }
        let expected = "lib\(product.name).so"
        guard let artifact = result.builtArtifacts.first(where: { $0.url.lastPathComponent == expected }) else {
            throw PluginError("the build of \(product.name) produced no \(expected)")
        }
        return artifact.url
    }

    private func compileC(
        _ product: LibraryProduct,
        compiler: URL,
        exportMap: URL,
        context: PluginContext
    ) throws -> URL {
        var targets: [ClangSourceModuleTarget] = []
        for target in product.targets {
            for candidate in [target] + target.recursiveTargetDependencies {
                if let clang = candidate as? ClangSourceModuleTarget, !targets.contains(where: { $0.id == clang.id }) {
                    targets.append(clang)
                }
            }
        }
        var arguments = ["-std=gnu11", "-O2", "-fPIC", "-shared", "-DNDEBUG", "-Wall"]
        for target in targets {
            if let headers = target.publicHeadersDirectoryURL { arguments += ["-I", headers.path] }
            arguments += target.headerSearchPaths.map { "-I" + target.directoryURL.appendingPathComponent($0).path }
            arguments += target.preprocessorDefinitions.map { "-D" + $0 }
        }
        for target in targets {
            arguments += target.sourceFiles(withSuffix: ".c").map(\.url.path)
        }
        let library = context.pluginWorkDirectoryURL.appendingPathComponent("lib\(product.name).so")
        arguments += ["-Wl,--version-script=\(exportMap.path)", "-Wl,-z,relro,-z,now", "-o", library.path]

        let process = Process()
        process.executableURL = compiler
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw PluginError(
                "\(compiler.lastPathComponent) failed for \(product.name) (exit \(process.terminationStatus))"
            )
        }
        return library
    }

    /// Whether every target the product builds from is a C target.
    private static func isPlainC(_ product: LibraryProduct) -> Bool {
        let all = product.targets.flatMap { [$0] + $0.recursiveTargetDependencies }
        return !all.isEmpty && all.allSatisfy { $0 is ClangSourceModuleTarget }
            && all.compactMap { $0 as? ClangSourceModuleTarget }.allSatisfy { target in
                target.sourceFiles.allSatisfy { file in
                    file.type != .source || file.url.pathExtension == "c"
                }
            }
    }

    /// The first of cc, clang, gcc on the PATH.
    private static func cCompiler() -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in ["cc", "clang", "gcc"] {
            for directory in path.split(separator: ":") {
                let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            }
        }
        return nil
    }

    /// Copies `library` into `directory` under a hidden temporary name, then renames it into place.
    private static func install(_ library: URL, into directory: URL) throws -> URL {
        let destination = directory.appendingPathComponent(library.lastPathComponent)
        let temporary = directory.appendingPathComponent(".\(library.lastPathComponent).\(getpid()).tmp")
        try? FileManager.default.removeItem(at: temporary)
        try FileManager.default.copyItem(at: library, to: temporary)
        guard rename(temporary.path, destination.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw PluginError("cannot move \(temporary.path) to \(destination.path): \(reason)")
        }
        return destination
    }
}

/// A failure the plugin reports to the user.
struct PluginError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
