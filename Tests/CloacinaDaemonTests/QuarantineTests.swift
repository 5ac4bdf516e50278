import Cloacina
import CloacinaTestSupport
import Foundation
import Testing

@testable import CloacinaDaemon

/// The quarantine rule as a plain value: crashes counted per version within a sliding window, time passed in.
@Suite("Quarantine")
struct QuarantineTests {
    let start = ContinuousClock.now
    let digest = String(repeating: "a", count: 64)
    let other = String(repeating: "b", count: 64)

    func crash(_ book: inout Quarantine, _ sha256: String, at seconds: Int) -> QuarantineEntry? {
        book.record(
            sha256: sha256,
            package: "p",
            version: "1.0.0",
            cause: "worker killed by SIGSEGV (Segmentation fault)",
            now: start + .seconds(seconds),
            wallClock: Timestamp(milliseconds: Int64(seconds) * 1000)
        )
    }

    @Test("the Nth crash within the window quarantines the version, with the last cause; other versions apart")
    func threshold() throws {
        var book = Quarantine(rule: QuarantineRule(crashes: 3, window: .seconds(60)))
        #expect(crash(&book, digest, at: 0) == nil)
        #expect(crash(&book, other, at: 1) == nil)
        #expect(crash(&book, digest, at: 10) == nil)
        let entry = try #require(crash(&book, digest, at: 20))
        #expect(entry.crashes == 3 && entry.sha256 == digest && entry.since.milliseconds == 20_000)
        #expect(entry.reason.contains("killed 3 worker processes within 60 s (last: worker killed by SIGSEGV"))
        #expect(entry.reason.contains("cloacina workflows unquarantine p"))
        #expect(book.entries.keys.sorted() == [digest])
        // Once quarantined, more crashes change nothing.
        #expect(crash(&book, digest, at: 21) == nil)
    }

    @Test("crashes older than the window do not count")
    func window() {
        var book = Quarantine(rule: QuarantineRule(crashes: 2, window: .seconds(10)))
        #expect(crash(&book, digest, at: 0) == nil)
        #expect(crash(&book, digest, at: 10) == nil)
        #expect(crash(&book, digest, at: 25) == nil)
        #expect(crash(&book, digest, at: 34) != nil)
    }

    @Test("a rule of 0 crashes never quarantines")
    func off() {
        var book = Quarantine(rule: .off)
        for second in 0..<100 { #expect(crash(&book, digest, at: second) == nil) }
        #expect(book.entries.isEmpty)
    }

    @Test("release forgets the version's recent crashes; reconcile keeps exactly what is on disk")
    func releaseAndReconcile() throws {
        var book = Quarantine(rule: QuarantineRule(crashes: 2, window: .seconds(60)))
        #expect(crash(&book, digest, at: 0) == nil)
        let entry = try #require(crash(&book, digest, at: 1))
        #expect(book.release(digest) == entry)
        #expect(book.release(digest) == nil)
        #expect(crash(&book, digest, at: 2) == nil)
        let quarantined = try #require(crash(&book, digest, at: 3))
        var onDisk = quarantined
        onDisk.sha256 = other
        book.reconcile(with: [onDisk])
        #expect(book.entries.keys.sorted() == [other])
        #expect(crash(&book, digest, at: 4) == nil)
    }

    @Test("entries survive their file form; files that are not entries are ignored, not trusted")
    func files() throws {
        let directory = try TemporaryDirectory("quarantine-files")
        let files = QuarantineFiles(directory: directory.file("quarantine"))
        var book = Quarantine(rule: QuarantineRule(crashes: 1, window: .milliseconds(1500)))
        let entry = try #require(crash(&book, digest, at: 5))
        try files.write(entry)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: directory.file("quarantine/\(other).json")))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: directory.file("quarantine/not-a-digest.json")))
        let (entries, ignored) = files.load()
        #expect(entries == [entry])
        #expect(ignored.count == 2)
        #expect(try files.remove(digest))
        #expect(try !files.remove(digest))
        #expect(try !files.remove("../../etc/passwd"))
    }
}
