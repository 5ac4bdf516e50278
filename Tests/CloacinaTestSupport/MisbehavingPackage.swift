import Foundation

/// A C package whose tasks misbehave, one way each, for the tests of worker processes: workflow `w_<task>` runs
/// task `<task>` alone.
///
/// Tasks find their scratch directory in the context (`{"dir": "/path"}`), append `<task> <attempt>` to
/// `<dir>/calls` on every call (so tests count invocations of the task body), and, where they wait to be killed
/// or spun, first write their process id into the FIFO `<dir>/running` (the test reads it: an event, not a sleep).
public enum MisbehavingPackage {
    /// What each task does, after noting the call.
    public static let behaviours: [(task: String, code: String)] = [
        ("ok", ""),
        ("segv", "*(volatile int *)0 = 1;"),
        ("abort", "abort();"),
        ("exit3", "exit(3);"),
        ("sigkill", "raise(SIGKILL);"),
        ("spin", "announce(call); for (;;) {}"),
        (
            "garbage",
            #"""
            printf("garbage on stdout \x01\x02 {\"impl\":\"forged\"}\n"); fflush(stdout);
            fprintf(stderr, "garbage on stderr\n");
            write(1, "\xff\xff\xff\x7f\x44", 5); write(2, "\x05\x00\x00\x00\x44", 5);
            """#
        ),
        ("forge", #"write(3, "\x05\x00\x00\x00\x44zzzz", 9);"#),
        ("sleep", "sleep(30);"),
        ("setenv", #"setenv("CLOACINA_ISOLATION", "in-process", 1); setenv("PATH", "/nonexistent", 1);"#),
        ("sighandler", "signal(SIGTERM, SIG_IGN); signal(SIGINT, SIG_IGN); signal(SIGHUP, SIG_IGN);"),
        ("crash_always", "*(volatile int *)0 = 1;"),
        ("flaky", "if (call->attempt == 1) *(volatile int *)0 = 1;"),
        ("wait_kill", "if (call->attempt == 1) { announce(call); for (;;) pause(); }"),
        ("doomed", "if (call->attempt == 1) { announce(call); for (;;) pause(); } *(volatile int *)0 = 1;"),
        ("hog", "for (;;) { char *p = malloc(64u << 20); if (!p) abort(); memset(p, 1, 64u << 20); }"),
        (
            "hostmaps",
            #"""
            char to[1024], from[64], chunk[4096]; size_t n;
            snprintf(from, sizeof from, "/proc/%d/maps", (int)getppid());
            FILE *in = fopen(from, "r"), *out = scratch(call, "hostmaps", to, sizeof to) ? fopen(to, "w") : NULL;
            while (in && out && (n = fread(chunk, 1, sizeof chunk, in)) > 0) fwrite(chunk, 1, n, out);
            if (in) fclose(in); if (out) fclose(out);
            """#
        ),
        (
            "pid",
            #"char line[128]; snprintf(line, sizeof line, "%d %s", (int)getpid(), call->tenant); note(call, "pids", line);"#
        ),
    ]

    /// Tasks retried once (two attempts, retryable failures only).
    public static let retried: Set<String> = ["flaky", "wait_kill", "doomed", "crash_always"]

    public static var package: CorpusPackage {
        var package = CorpusPackage()
        package.name = "misbehaving"
        package.extraDeclarations = #"""
            #include <signal.h>
            #include <unistd.h>
            #include <fcntl.h>

            /* <dir>/<name>, with <dir> from the context's "dir" (the context is not NUL-terminated). */
            static int scratch(const cloacina_task_call *call, const char *name, char *out, size_t size) {
                const char *key = "\"dir\":\"";
                const char *text = (const char *)call->context_json;
                size_t length = call->context_len, keyLength = strlen(key);
                for (size_t i = 0; i + keyLength <= length; i++) {
                    if (memcmp(text + i, key, keyLength) != 0) continue;
                    size_t start = i + keyLength, end = start;
                    while (end < length && text[end] != '"') end++;
                    snprintf(out, size, "%.*s/%s", (int)(end - start), text + start, name);
                    return 1;
                }
                return 0;
            }

            static void note(const cloacina_task_call *call, const char *name, const char *line) {
                char path[1024];
                if (!scratch(call, name, path, sizeof path)) return;
                int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
                if (fd < 0) return;
                char text[256];
                int n = snprintf(text, sizeof text, "%s\n", line);
                write(fd, text, (size_t)n);
                close(fd);
            }

            /* Writes this process's id into the FIFO <dir>/running (blocks until the test reads it). */
            static void announce(const cloacina_task_call *call) {
                char path[1024];
                if (!scratch(call, "running", path, sizeof path)) return;
                int fd = open(path, O_WRONLY);
                if (fd < 0) return;
                char text[32];
                int n = snprintf(text, sizeof text, "%d\n", (int)getpid());
                write(fd, text, (size_t)n);
                close(fd);
            }
            """#
        var prologue = #"""
            {
                char line[128];
                snprintf(line, sizeof line, "%s %u", call->task_id, call->attempt);
                note(call, "calls", line);
            }

            """#
        for (task, code) in behaviours where !code.isEmpty {
            prologue += "    if (strcmp(call->task_id, \"\(task)\") == 0) { \(code) }\n"
        }
        package.taskPrologue = prologue
        package.workflows = behaviours.map { behaviour in
            (
                "w_\(behaviour.task)",
                [CorpusPackage.Task(behaviour.task, retry: retried.contains(behaviour.task) ? (2, 1, 3) : nil)]
            )
        }
        return package
    }

    /// The calls noted in `directory` (`<task> <attempt>` lines), in order.
    public static func calls(in directory: TemporaryDirectory) -> [String] {
        let text = (try? String(contentsOfFile: directory.file("calls"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    /// Makes the FIFO a task announces itself in, in `directory`.
    public static func makeFIFO(in directory: TemporaryDirectory) throws {
        guard mkfifo(directory.file("running"), 0o600) == 0 else {
            throw CompilerError(message: "mkfifo: \(String(cString: strerror(errno)))")
        }
    }

    /// The process id a task writes into the FIFO of `directory`, read on a thread of its own (opening a FIFO
    /// blocks until the task opens it).
    public static func announcedPID(in directory: TemporaryDirectory) async -> Int32? {
        let path = directory.file("running")
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let fd = open(path, O_RDONLY)
                var bytes: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 64)
                while fd >= 0 {
                    let count = read(fd, &chunk, chunk.count)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    bytes += chunk[0..<count]
                }
                if fd >= 0 { close(fd) }
                let text = String(decoding: bytes, as: UTF8.self)
                continuation.resume(returning: Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)))
            }
        }
    }

    /// Whether process `pid` ended (as its process handle tells: at once, or within `seconds`, a limit that only
    /// matters when the code under test is broken), after a SIGKILL when `killing`. A process that is not there
    /// (already collected) has ended.
    public static func ended(_ pid: Int32, killing: Bool = false, seconds: Int32 = 60) -> Bool {
        typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
        guard let open = dlsym(nil, "pidfd_open").map({ unsafeBitCast($0, to: PidfdOpen.self) }) else { return false }
        let handle = open(pid, 0)
        guard handle >= 0 else { return errno == ESRCH }
        defer { close(handle) }
        if killing { kill(pid, SIGKILL) }
        var poller = pollfd(fd: handle, events: Int16(POLLIN), revents: 0)
        var ready: Int32
        repeat { ready = poll(&poller, 1, seconds * 1000) } while ready < 0 && errno == EINTR
        return ready == 1
    }

    /// The context that tells the tasks where `directory` is.
    public static func context(_ directory: TemporaryDirectory) -> String {
        #"{"dir":"\#(directory.path)"}"#
    }
}
