import CloacinaTestSupport
import Foundation
import Testing

@testable import Cloacina

@Suite("ELF checks before dlopen")
struct ELFImageTests {
    static func inspect(_ bytes: [UInt8]) -> Result<ELFImage, ELFError> {
        bytes.withUnsafeBytes { buffer in Result { () throws(ELFError) in try ELFImage.inspect(buffer) } }
    }

    static func reason(_ bytes: [UInt8]) -> String? {
        if case .failure(let error) = inspect(bytes) { return error.reason }
        return nil
    }

    @Test("a C package passes and its entry points and libraries are found")
    func validPackage() throws {
        let directory = try TemporaryDirectory("elf")
        let path = try CorpusPackage().build(in: directory.path, fileName: "libgood.so")
        let image = try Self.inspect(Array(try Data(contentsOf: URL(fileURLWithPath: path)))).get()
        #expect(image.exportedSymbols.isSuperset(of: ["cloacina_package_info", "cloacina_package_init"]))
        #expect(!image.containsSwiftCode)
        #expect(image.neededLibraries.contains("libc.so.6"))
    }

    @Test("every truncation of a valid package is rejected, none crashes")
    func truncations() throws {
        let directory = try TemporaryDirectory("elf")
        let path = try CorpusPackage().build(in: directory.path, fileName: "libgood.so")
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        for length in stride(from: 0, to: bytes.count, by: 97) {
            let reason = Self.reason(Array(bytes[0..<length]))
            #expect(reason != nil, "a \(length)-byte prefix was accepted")
        }
        #expect(Self.reason(Array(bytes.dropLast(1))) != nil)
        #expect(Self.reason(Array(bytes[0..<2000]))?.hasPrefix("truncated") == true)
    }

    @Test("random bytes, text and corrupted headers never crash the checker")
    func garbage() throws {
        var generator = SystemRandomNumberGenerator()
        for size in [0, 1, 63, 64, 65, 200, 4096, 100_000] {
            var bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = Self.inspect(bytes)
            if size >= 64 {
                bytes.replaceSubrange(0..<7, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1])
                bytes[16] = 3
                bytes[17] = 0
                bytes[18] = 62
                bytes[19] = 0
                _ = Self.inspect(bytes)
            }
        }
        #expect(Self.reason([]) == "the file is empty")
        #expect(Self.reason(Array("#!/bin/sh\necho hi\n".utf8)) == "file too short for an ELF header (18 bytes)")
        #expect(Self.reason(Array(repeating: 0x41, count: 100)) == "not an ELF file (bad magic number)")
    }

    @Test("a valid file with a flipped header byte is rejected for the right reason")
    func corruptedHeader() throws {
        let directory = try TemporaryDirectory("elf")
        let path = try CorpusPackage().build(in: directory.path, fileName: "libgood.so")
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        var other = bytes
        other[18] = 183
        other[19] = 0
        #expect(Self.reason(other) == "built for AArch64, this host is x86-64")
        var thirtyTwo = bytes
        thirtyTwo[4] = 1
        #expect(Self.reason(thirtyTwo)?.contains("32-bit") == true)
        var executable = bytes
        executable[16] = 2
        #expect(Self.reason(executable) == "an executable, not a shared object")
        var object = bytes
        object[16] = 1
        #expect(Self.reason(object)?.contains("relocatable object file") == true)
    }
}
