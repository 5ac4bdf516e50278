/// Decides which of several loaded packages may be served together.
///
/// Two rules: a workflow name belongs to one package, and a package name to one file's content. Files are judged
/// in the order given; the first claim wins and later claimants are rejected at the `conflict` stage, naming the
/// package and file that holds the claim. Identical content in two files is one package, not a conflict.
public enum PackageCatalog {
    /// `reports` with conflicting packages turned into rejections. Pure: no I/O, no loading.
    public static func resolveConflicts(_ reports: [PackageReport]) -> [PackageReport] {
        var workflowOwner: [String: (package: String, file: String)] = [:]
        var packageOwner: [String: (sha256: String, file: String)] = [:]
        var firstFile: [String: String] = [:]
        return reports.map { report in
            guard report.isLoaded, let info = report.info, let sha256 = report.sha256 else { return report }
            if let first = firstFile[sha256] {
                var duplicate = report
                duplicate.duplicateOf = duplicate.duplicateOf ?? first
                return duplicate
            }
            if let owner = packageOwner[info.name], owner.sha256 != sha256 {
                return report.rejected(
                    PackageLoadError(
                        .conflict,
                        "package \"\(info.name)\" is already loaded from \(owner.file) with different content"
                    )
                )
            }
            for workflow in report.workflows {
                if let owner = workflowOwner[workflow.name] {
                    return report.rejected(
                        PackageLoadError(
                            .conflict,
                            "workflow \"\(workflow.name)\" is already provided by package \"\(owner.package)\" (\(owner.file))"
                        )
                    )
                }
            }
            firstFile[sha256] = report.file
            packageOwner[info.name] = (sha256, report.file)
            for workflow in report.workflows { workflowOwner[workflow.name] = (info.name, report.file) }
            return report
        }
    }

}
