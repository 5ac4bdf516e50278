internal import CCrypto

/// SHA-256 through the system's libcrypto: of package files, and of workflow definitions (their key in a store).
package enum SHA256 {
    /// The digest of `bytes` as 64 lower-case hex digits.
    package static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = digest.withUnsafeMutableBufferPointer { output in
            EVP_Digest(bytes.baseAddress, bytes.count, output.baseAddress, &length, EVP_sha256(), nil)
        }
        precondition(ok == 1 && length == 32, "libcrypto failed to compute SHA-256")
        return digest.map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()
    }

    /// The digest of `bytes` as 64 lower-case hex digits.
    package static func hex(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hex($0) }
    }

    /// Whether `text` has the form of a digest: exactly 64 lower-case hex digits (so it is safe in a file name).
    package static func isDigest(_ text: String) -> Bool {
        let utf8 = text.utf8
        return utf8.count == 64 && utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
