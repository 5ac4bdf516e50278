/// What the loader needs to know about a shared object before handing it to `dlopen`.
///
/// `dlopen` trusts the file: a truncated image kills the process with SIGBUS inside the dynamic loader, and any
/// library runs its constructors before the host can look at it. ``inspect(_:)`` reads the file as untrusted
/// bytes, with every offset bounds-checked, and refuses anything that is not a complete 64-bit little-endian shared
/// object for this machine. It does not prove the code inside is sound; only running it in another process can.
struct ELFImage: Sendable {
    /// Names of the defined, exported (global or weak, default or protected visibility) dynamic symbols.
    var exportedSymbols: Set<String>
    /// Libraries named by `DT_NEEDED`, in file order.
    var neededLibraries: [String]
    /// Whether the image contains Swift code (non-empty `swift5_*` sections).
    var containsSwiftCode: Bool
    /// The toolchain tag a Swift package stores in its `cloacina_toolchain` section, if present.
    var toolchainTag: String?

    /// The `e_machine` of this host.
    static var hostMachine: UInt16 {
        #if arch(x86_64)
        return 62
        #elseif arch(arm64)
        return 183
        #else
        return 0
        #endif
    }

    /// Checks `bytes` and extracts what the loader needs. Throws a message saying what is wrong with the file.
    static func inspect(_ bytes: UnsafeRawBufferPointer) throws(ELFError) -> ELFImage {
        var reader = ELFReader(bytes: bytes)
        return try reader.inspect()
    }

    /// A readable name for an `e_machine` value.
    static func machineName(_ machine: UInt16) -> String {
        switch machine {
        case 3: return "x86 (32-bit)"
        case 8: return "MIPS"
        case 20: return "PowerPC"
        case 21: return "PowerPC 64"
        case 22: return "s390"
        case 40: return "ARM (32-bit)"
        case 62: return "x86-64"
        case 183: return "AArch64"
        case 243: return "RISC-V"
        default: return "machine \(machine)"
        }
    }
}

/// Why a file is not a loadable shared object.
struct ELFError: Error, Sendable {
    var reason: String
}

/// Bounds-checked reads over untrusted ELF bytes.
private struct ELFReader {
    let bytes: UnsafeRawBufferPointer
    var size: UInt64 { UInt64(bytes.count) }

    struct Segment {
        var type: UInt32
        var offset: UInt64
        var virtualAddress: UInt64
        var fileSize: UInt64
    }

    struct Section {
        var nameOffset: UInt32
        var type: UInt32
        var offset: UInt64
        var size: UInt64
        var link: UInt32
        var entrySize: UInt64
    }

    func fail(_ reason: String) -> ELFError { ELFError(reason: reason) }

    func u8(_ offset: UInt64) -> UInt8 { bytes.load(fromByteOffset: Int(offset), as: UInt8.self) }
    func u16(_ offset: UInt64) -> UInt16 {
        UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(offset), as: UInt16.self))
    }
    func u32(_ offset: UInt64) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(offset), as: UInt32.self))
    }
    func u64(_ offset: UInt64) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: Int(offset), as: UInt64.self))
    }

    /// The end of `[offset, offset + count * stride)` if it lies inside the file; nil on overflow or overrun.
    func end(of offset: UInt64, count: UInt64, stride: UInt64 = 1) -> UInt64? {
        let (length, overflow) = count.multipliedReportingOverflow(by: stride)
        guard !overflow else { return nil }
        let (end, overflowEnd) = offset.addingReportingOverflow(length)
        guard !overflowEnd, end <= size else { return nil }
        return end
    }

    /// A NUL-terminated string starting at `offset` and not extending past `limit`.
    func string(at offset: UInt64, limit: UInt64) -> String? {
        guard offset < limit, limit <= size else { return nil }
        var cursor = offset
        while cursor < limit, u8(cursor) != 0 { cursor += 1 }
        guard cursor < limit else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<Int(cursor)])
        return String(validating: slice, as: UTF8.self)
    }

    mutating func inspect() throws(ELFError) -> ELFImage {
        guard size > 0 else { throw fail("the file is empty") }
        guard size >= 64 else { throw fail("file too short for an ELF header (\(size) bytes)") }
        guard u8(0) == 0x7F, u8(1) == 0x45, u8(2) == 0x4C, u8(3) == 0x46 else {
            throw fail("not an ELF file (bad magic number)")
        }
        guard u8(4) == 2 else { throw fail("a 32-bit ELF file; this host loads 64-bit shared objects") }
        guard u8(5) == 1 else { throw fail("a big-endian ELF file; this host is little-endian") }
        guard u8(6) == 1 else { throw fail("unknown ELF version \(u8(6))") }
        switch u16(16) {
        case 3: break
        case 1: throw fail("a relocatable object file (.o), not a shared object; link it with -shared")
        case 2: throw fail("an executable, not a shared object")
        case 4: throw fail("a core dump, not a shared object")
        case let type: throw fail("ELF type \(type) is not a shared object")
        }
        let machine = u16(18)
        guard machine == ELFImage.hostMachine else {
            throw fail(
                "built for \(ELFImage.machineName(machine)), this host is \(ELFImage.machineName(ELFImage.hostMachine))"
            )
        }

        let segments = try readSegments()
        let sections = try readSections()
        let needed = try readDynamic(segments: segments)

        var symbols: Set<String> = []
        var containsSwiftCode = false
        var toolchainTag: String?
        let names = try sectionNames(sections)
        for (index, section) in sections.enumerated() {
            let name = names[index]
            if name.hasPrefix("swift5_") && section.size > 0 { containsSwiftCode = true }
            if name == "cloacina_toolchain" && section.type != 8 {
                toolchainTag = string(at: section.offset, limit: section.offset + section.size)
                if toolchainTag == nil { throw fail("the cloacina_toolchain section holds no valid tag") }
            }
            if section.type == 11 {  // SHT_DYNSYM
                symbols.formUnion(try exportedSymbols(section, sections: sections))
            }
        }
        guard sections.contains(where: { $0.type == 11 }) else {
            throw fail("no dynamic symbol table: the file exports nothing")
        }
        return ELFImage(
            exportedSymbols: symbols,
            neededLibraries: needed,
            containsSwiftCode: containsSwiftCode,
            toolchainTag: toolchainTag
        )
    }

    func readSegments() throws(ELFError) -> [Segment] {
        let offset = u64(32)
        let entrySize = UInt64(u16(54))
        let count = UInt64(u16(56))
        guard count > 0 else { throw fail("no program headers: nothing to load") }
        guard count != 0xFFFF else { throw fail("extended program header numbering is not supported") }
        guard entrySize == 56 else { throw fail("unexpected program header size \(entrySize)") }
        guard end(of: offset, count: count, stride: entrySize) != nil else {
            throw fail("truncated: the program header table does not fit in the file (\(size) bytes)")
        }
        var segments: [Segment] = []
        for index in 0..<count {
            let base = offset + index * entrySize
            let segment = Segment(
                type: u32(base),
                offset: u64(base + 8),
                virtualAddress: u64(base + 16),
                fileSize: u64(base + 32)
            )
            if segment.type == 1 || segment.type == 2 {  // PT_LOAD, PT_DYNAMIC
                guard end(of: segment.offset, count: segment.fileSize) != nil else {
                    let needed = segment.offset.addingReportingOverflow(segment.fileSize)
                    let shown = needed.overflow ? "more" : "\(needed.partialValue)"
                    throw fail("truncated: segment \(index) needs \(shown) bytes, the file has \(size)")
                }
            }
            segments.append(segment)
        }
        guard segments.contains(where: { $0.type == 1 }) else { throw fail("no loadable segments") }
        return segments
    }

    func readSections() throws(ELFError) -> [Section] {
        let offset = u64(40)
        let entrySize = UInt64(u16(58))
        let count = UInt64(u16(60))
        guard offset != 0, count > 0 else { throw fail("no section header table: cannot check the exported symbols") }
        guard entrySize == 64 else { throw fail("unexpected section header size \(entrySize)") }
        guard end(of: offset, count: count, stride: entrySize) != nil else {
            throw fail("truncated: the section header table ends beyond the end of the file (\(size) bytes)")
        }
        var sections: [Section] = []
        for index in 0..<count {
            let base = offset + index * entrySize
            let section = Section(
                nameOffset: u32(base),
                type: u32(base + 4),
                offset: u64(base + 24),
                size: u64(base + 32),
                link: u32(base + 40),
                entrySize: u64(base + 56)
            )
            if section.type != 0 && section.type != 8 {  // SHT_NULL, SHT_NOBITS occupy no file space
                guard end(of: section.offset, count: section.size) != nil else {
                    throw fail("truncated: section \(index) extends beyond the end of the file (\(size) bytes)")
                }
            }
            sections.append(section)
        }
        return sections
    }

    func sectionNames(_ sections: [Section]) throws(ELFError) -> [String] {
        let index = Int(u16(62))
        guard index < sections.count, sections[index].type == 3 else {  // SHT_STRTAB
            throw fail("invalid section name table index \(index)")
        }
        let table = sections[index]
        return sections.map { section in
            string(at: table.offset + UInt64(section.nameOffset), limit: table.offset + table.size) ?? ""
        }
    }

    func exportedSymbols(_ table: Section, sections: [Section]) throws(ELFError) -> Set<String> {
        guard table.entrySize == 24 else { throw fail("unexpected dynamic symbol size \(table.entrySize)") }
        guard Int(table.link) < sections.count, sections[Int(table.link)].type == 3 else {
            throw fail("the dynamic symbol table has no string table")
        }
        let strings = sections[Int(table.link)]
        var names: Set<String> = []
        for index in 0..<(table.size / 24) {
            let base = table.offset + index * 24
            let info = u8(base + 4)
            let visibility = u8(base + 5) & 0x3
            let sectionIndex = u16(base + 6)
            let binding = info >> 4
            guard sectionIndex != 0, binding == 1 || binding == 2, visibility == 0 || visibility == 3 else { continue }
            if let name = string(at: strings.offset + UInt64(u32(base)), limit: strings.offset + strings.size) {
                names.insert(name)
            }
        }
        return names
    }

    func readDynamic(segments: [Segment]) throws(ELFError) -> [String] {
        guard let dynamic = segments.first(where: { $0.type == 2 }) else {
            throw fail("no dynamic section: a static executable or object, not a shared object")
        }
        var neededOffsets: [UInt64] = []
        var stringTable: UInt64?
        var stringTableSize: UInt64 = 0
        var flags1: UInt64 = 0
        var cursor = dynamic.offset
        scan: while cursor + 16 <= dynamic.offset + dynamic.fileSize {
            let value = u64(cursor + 8)
            switch u64(cursor) {
            case 0: break scan  // DT_NULL ends the table
            case 1: neededOffsets.append(value)  // DT_NEEDED
            case 5: stringTable = value  // DT_STRTAB
            case 10: stringTableSize = value  // DT_STRSZ
            case 0x6FFF_FFFB: flags1 = value  // DT_FLAGS_1
            default: break
            }
            cursor += 16
        }
        if flags1 & 0x0800_0000 != 0 {  // DF_1_PIE
            throw fail("a position-independent executable, not a shared object")
        }
        guard let address = stringTable, let tableOffset = fileOffset(of: address, segments: segments) else {
            if neededOffsets.isEmpty { return [] }
            throw fail("the dynamic string table is outside the file")
        }
        let limit = min(tableOffset.addingReportingOverflow(stringTableSize).partialValue, size)
        var needed: [String] = []
        for offset in neededOffsets {
            guard let name = string(at: tableOffset + offset, limit: limit) else {
                throw fail("a DT_NEEDED entry points outside the string table")
            }
            needed.append(name)
        }
        return needed
    }

    /// The file offset of a virtual address inside a loaded segment.
    func fileOffset(of address: UInt64, segments: [Segment]) -> UInt64? {
        for segment in segments where segment.type == 1 {
            if address >= segment.virtualAddress && address - segment.virtualAddress < segment.fileSize {
                return segment.offset + (address - segment.virtualAddress)
            }
        }
        return nil
    }
}
