import ArgumentParser

/// How a command prints its result: for people, or as JSON for scripts.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}
