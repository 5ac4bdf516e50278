import PackagePlugin
@main struct BuildWorkflows: CommandPlugin { func performCommand(context: PluginContext, arguments: [String]) async throws {} }
