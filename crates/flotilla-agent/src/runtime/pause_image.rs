//! The pause image, made by the agent itself: no registry is reachable from a node,
//! so the image holding an awsvpc task's network namespace cannot be pulled.
//!
//! It is one static ELF executable, `/pause`, that blocks forever: x86_64 calls
//! `pause()` (syscall 34) in a loop, aarch64 `ppoll(NULL, 0, NULL, NULL)` (syscall
//! 73; it has no `pause`). Both return only when a signal arrives, and the loop goes
//! back to waiting. As a container's PID 1 it ignores SIGTERM (the kernel drops
//! signals PID 1 has no handler for), so the agent removes it with SIGKILL.
//!
//! The file is a 64-byte ELF64 header, one 56-byte `PT_LOAD` program header mapping
//! the whole file read+execute at 0x400000, and the code right after them (so the
//! entry point is 0x400000 + 120). [`tar`] packs it as the only entry of a tar
//! archive, the body `docker import` sends.

/// Where the file is mapped (and so where the entry point lies).
pub const LOAD_ADDRESS: u64 = 0x40_0000;
/// Size of the ELF64 file header.
pub const ELF_HEADER_SIZE: usize = 64;
/// Size of one ELF64 program header.
pub const PROGRAM_HEADER_SIZE: usize = 56;

/// x86_64: `mov eax, 34` (pause); `syscall`; `jmp` back to the `mov`.
const X86_64_CODE: [u8; 9] = [
    0xb8, 0x22, 0x00, 0x00, 0x00, // mov eax, 34
    0x0f, 0x05, // syscall
    0xeb, 0xf7, // jmp -9 (to the mov)
];

/// aarch64: `ppoll(NULL, 0, NULL, NULL)` in a loop, little-endian words.
const AARCH64_CODE: [u32; 7] = [
    0xd280_0000, // mov x0, #0   (fds = NULL)
    0xd280_0001, // mov x1, #0   (nfds = 0)
    0xd280_0002, // mov x2, #0   (timeout = NULL: wait forever)
    0xd280_0003, // mov x3, #0   (sigmask = NULL)
    0xd280_0928, // mov x8, #73  (ppoll)
    0xd400_0001, // svc #0
    0x17ff_fffa, // b -6 words (to the first mov)
];

/// ELF `e_machine` of x86_64.
const EM_X86_64: u16 = 0x3e;
/// ELF `e_machine` of aarch64.
const EM_AARCH64: u16 = 0xb7;

/// The pause executable for a CPU architecture as Docker or Rust name it
/// (`x86_64`/`amd64`, `aarch64`/`arm64`); `None` for any other.
pub fn executable(arch: &str) -> Option<Vec<u8>> {
    let (machine, code): (u16, Vec<u8>) = match arch {
        "x86_64" | "amd64" => (EM_X86_64, X86_64_CODE.to_vec()),
        "aarch64" | "arm64" => (EM_AARCH64, AARCH64_CODE.iter().flat_map(|w| w.to_le_bytes()).collect()),
        _ => return None,
    };
    let headers = ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE;
    let file_size = (headers + code.len()) as u64;
    let mut f = Vec::with_capacity(headers + code.len());
    // --- ELF64 header (64 bytes) ---
    f.extend_from_slice(&[0x7f, b'E', b'L', b'F']); // e_ident[0..4]: magic
    f.push(2); // e_ident[EI_CLASS]: ELFCLASS64
    f.push(1); // e_ident[EI_DATA]: ELFDATA2LSB (little-endian)
    f.push(1); // e_ident[EI_VERSION]: EV_CURRENT
    f.push(0); // e_ident[EI_OSABI]: ELFOSABI_SYSV
    f.push(0); // e_ident[EI_ABIVERSION]
    f.extend_from_slice(&[0; 7]); // e_ident[9..16]: padding
    f.extend_from_slice(&2u16.to_le_bytes()); // e_type: ET_EXEC
    f.extend_from_slice(&machine.to_le_bytes()); // e_machine
    f.extend_from_slice(&1u32.to_le_bytes()); // e_version: EV_CURRENT
    f.extend_from_slice(&(LOAD_ADDRESS + headers as u64).to_le_bytes()); // e_entry: the code
    f.extend_from_slice(&(ELF_HEADER_SIZE as u64).to_le_bytes()); // e_phoff: right after this header
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff: no section headers
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    f.extend_from_slice(&(ELF_HEADER_SIZE as u16).to_le_bytes()); // e_ehsize
    f.extend_from_slice(&(PROGRAM_HEADER_SIZE as u16).to_le_bytes()); // e_phentsize
    f.extend_from_slice(&1u16.to_le_bytes()); // e_phnum: one program header
    f.extend_from_slice(&0u16.to_le_bytes()); // e_shentsize: no section headers
    f.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    f.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx: SHN_UNDEF
    // --- Program header (56 bytes): the whole file, mapped once ---
    f.extend_from_slice(&1u32.to_le_bytes()); // p_type: PT_LOAD
    f.extend_from_slice(&5u32.to_le_bytes()); // p_flags: PF_R | PF_X
    f.extend_from_slice(&0u64.to_le_bytes()); // p_offset: from the file's first byte
    f.extend_from_slice(&LOAD_ADDRESS.to_le_bytes()); // p_vaddr
    f.extend_from_slice(&LOAD_ADDRESS.to_le_bytes()); // p_paddr (unused on Linux)
    f.extend_from_slice(&file_size.to_le_bytes()); // p_filesz: the whole file
    f.extend_from_slice(&file_size.to_le_bytes()); // p_memsz: no .bss
    f.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align: a page (0x400000 suits 4K to 64K pages)
    // --- Code ---
    f.extend_from_slice(&code);
    Some(f)
}

/// A tar archive (ustar) holding one regular file, `name`, with mode 0755.
pub fn tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    let mut put = |offset: usize, bytes: &[u8]| header[offset..offset + bytes.len()].copy_from_slice(bytes);
    put(0, name.as_bytes()); // name (100 bytes, NUL-padded)
    put(100, b"0000755\0"); // mode
    put(108, b"0000000\0"); // uid
    put(116, b"0000000\0"); // gid
    put(124, format!("{:011o}\0", content.len()).as_bytes()); // size, octal
    put(136, b"00000000000\0"); // mtime
    put(148, b"        "); // checksum, counted as spaces
    put(156, b"0"); // typeflag: regular file
    put(257, b"ustar\0"); // magic
    put(263, b"00"); // version
    put(265, b"root"); // uname
    put(297, b"root"); // gname
    let checksum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());
    let padded = content.len().div_ceil(512) * 512;
    let mut out = Vec::with_capacity(512 + padded + 1024);
    out.extend_from_slice(&header);
    out.extend_from_slice(content);
    out.resize(512 + padded, 0);
    // Two zero blocks end the archive.
    out.resize(512 + padded + 1024, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
    }
    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    fn check_headers(elf: &[u8], machine: u16, code: &[u8]) {
        assert_eq!(&elf[0..4], b"\x7fELF", "magic");
        assert_eq!(elf[4], 2, "64-bit");
        assert_eq!(elf[5], 1, "little-endian");
        assert_eq!(elf[6], 1, "ELF version");
        assert_eq!(elf[7], 0, "System V ABI");
        assert_eq!(&elf[8..16], &[0; 8], "ABI version and padding");
        assert_eq!(u16_at(elf, 16), 2, "ET_EXEC");
        assert_eq!(u16_at(elf, 18), machine, "e_machine");
        assert_eq!(u32_at(elf, 20), 1, "e_version");
        assert_eq!(u64_at(elf, 24), 0x40_0078, "e_entry: 0x400000 + 64 + 56");
        assert_eq!(u64_at(elf, 32), 64, "e_phoff");
        assert_eq!(u64_at(elf, 40), 0, "e_shoff");
        assert_eq!(u32_at(elf, 48), 0, "e_flags");
        assert_eq!(u16_at(elf, 52), 64, "e_ehsize");
        assert_eq!(u16_at(elf, 54), 56, "e_phentsize");
        assert_eq!(u16_at(elf, 56), 1, "e_phnum");
        assert_eq!((u16_at(elf, 58), u16_at(elf, 60), u16_at(elf, 62)), (0, 0, 0), "no section headers");
        let ph = &elf[64..120];
        assert_eq!(u32_at(ph, 0), 1, "PT_LOAD");
        assert_eq!(u32_at(ph, 4), 5, "R+X");
        assert_eq!(u64_at(ph, 8), 0, "p_offset");
        assert_eq!(u64_at(ph, 16), 0x40_0000, "p_vaddr");
        assert_eq!(u64_at(ph, 24), 0x40_0000, "p_paddr");
        assert_eq!(u64_at(ph, 32), elf.len() as u64, "p_filesz");
        assert_eq!(u64_at(ph, 40), elf.len() as u64, "p_memsz");
        assert_eq!(u64_at(ph, 48), 0x1000, "p_align");
        assert_eq!(u64_at(ph, 16) % u64_at(ph, 48), u64_at(ph, 8) % u64_at(ph, 48), "vaddr ≡ offset (mod align)");
        assert_eq!(&elf[120..], code, "the code follows the headers");
    }

    #[test]
    fn x86_64_headers_and_code() {
        let elf = executable("x86_64").unwrap();
        check_headers(&elf, 0x3e, &[0xb8, 34, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7]);
        assert_eq!(elf.len(), 129);
        // The jump's target is the first instruction: the end of the jmp (9) - 9.
        assert_eq!(9 + i64::from(elf[128] as i8), 0);
        assert_eq!(executable("amd64"), Some(elf));
    }

    #[test]
    fn aarch64_headers_and_code() {
        let elf = executable("aarch64").unwrap();
        let code: Vec<u8> = AARCH64_CODE.iter().flat_map(|w| w.to_le_bytes()).collect();
        check_headers(&elf, 0xb7, &code);
        // movz x8, #73: imm16 in bits 5..21, register 8.
        assert_eq!((AARCH64_CODE[4] >> 5) & 0xffff, 73);
        assert_eq!(AARCH64_CODE[4] & 0x1f, 8);
        // b: a signed 26-bit word offset back to the first instruction.
        let offset = ((AARCH64_CODE[6] & 0x03ff_ffff) << 6) as i32 >> 6;
        assert_eq!(6 + offset, 0);
        assert_eq!(executable("arm64"), Some(elf));
    }

    #[test]
    fn other_architectures_have_none() {
        for arch in ["riscv64", "s390x", "ppc64le", "x86", ""] {
            assert_eq!(executable(arch), None, "{arch}");
        }
    }

    #[test]
    fn the_tar_holds_one_executable_file() {
        let content = executable("x86_64").unwrap();
        let tar = tar("pause", &content);
        assert_eq!(tar.len(), 512 + 512 + 1024);
        assert_eq!(&tar[0..6], b"pause\0");
        assert_eq!(&tar[100..108], b"0000755\0");
        assert_eq!(&tar[124..136], b"00000000201\0", "129 bytes in octal");
        assert_eq!(tar[156], b'0');
        assert_eq!(&tar[257..263], b"ustar\0");
        let stored: u32 = u32::from_str_radix(std::str::from_utf8(&tar[148..154]).unwrap(), 8).unwrap();
        let mut blank = tar[..512].to_vec();
        blank[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, blank.iter().map(|b| u32::from(*b)).sum::<u32>(), "header checksum");
        assert_eq!(&tar[512..512 + content.len()], &content[..]);
        assert!(tar[512 + content.len()..].iter().all(|b| *b == 0), "padding and end blocks");
    }
}
