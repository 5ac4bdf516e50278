/// Runs one blocking call (file reads, `dlopen`, a child process) on a thread of its own and awaits it, so the
/// caller's task never blocks a thread of Swift's cooperative pool.
///
/// For occasional calls (a reload, an admin command). Work that runs often goes through a runner's worker pools.
public enum BlockingCall {
    public static func run<T: Sendable>(name: String, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            startThread(name: name) { continuation.resume(returning: body()) }
        }
    }
}
