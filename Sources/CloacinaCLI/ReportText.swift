import Cloacina
import CloacinaDaemon

/// Renders package reports for people: one block per file, then a summary line.
enum ReportText {
    /// `quarantine`: the quarantined versions of a data directory, by SHA-256, marked on their files.
    static func render(_ reports: [PackageReport], quarantine: [String: QuarantineEntry] = [:]) -> String {
        var out = ""
        for report in reports {
            out += "\(report.file): \(report.isLoaded ? "loaded" : "rejected")\n"
            if let info = report.info {
                if let library = info.library {
                    out += "  package   \(info.name) \(info.version) (foreign library \(library))\n"
                } else {
                    let language = info.isSwift ? "Swift" : "C"
                    out += "  package   \(info.name) \(info.version) (\(language), ABI \(info.abi))\n"
                }
            }
            if let sha256 = report.sha256 {
                out += "  sha256    \(sha256)\n"
            }
            if let entry = report.sha256.flatMap({ quarantine[$0] }) {
                out += "  quarantined  \(entry.reason)\n"
            }
            if let duplicate = report.duplicateOf {
                out += "  note      same content as \(duplicate)\n"
            }
            if let error = report.error {
                out += "  error     \(error)\n"
            }
            for workflow in report.workflows {
                out += "  workflow  \(workflow.name)"
                if let description = workflow.description { out += ": \(description)" }
                out += "\n"
                let width = workflow.tasks.map(\.id.count).max() ?? 0
                for task in workflow.tasks {
                    var line = "    \(task.id)"
                    if !task.dependencies.isEmpty {
                        line += String(repeating: " ", count: width - task.id.count)
                        line += "  after \(task.dependencies.joined(separator: ", "))"
                    }
                    out += line + "\n"
                    if let native = task.native { out += "      " + nativeLine(native) + "\n" }
                }
            }
        }
        let loaded = reports.filter(\.isLoaded).count
        let rejected = reports.count - loaded
        out += "\(reports.count) file\(reports.count == 1 ? "" : "s"): \(loaded) loaded, \(rejected) rejected\n"
        return out
    }

    /// A native-signature task's call: `native double score(int64_t n, double w) ← n, w → score [fail_if zero]`,
    /// with the symbol when the declaration names another function.
    static func nativeLine(_ native: NativeCallDescription) -> String {
        var line = "native \(native.signature)"
        if let symbol = native.symbol, !native.signature.contains(" \(symbol)("),
            !native.signature.contains("*\(symbol)(")
        {
            line += " as \(symbol)"
        }
        if !native.arguments.isEmpty { line += " ← \(native.arguments.joined(separator: ", "))" }
        if let result = native.result { line += " → \(result)" }
        if let failIf = native.failIf { line += " [fail_if \(failIf)]" }
        return line
    }
}
