// What exec() needs of the ELF-64 object file format: the file header and the program
// headers. The layouts, field names and constants are the ELF specification's (the System V
// ABI's Elf64_Ehdr and Elf64_Phdr); only the struct names elfhdr and proghdr are ours.
#ifndef XV6_ELF_H
#define XV6_ELF_H

// e_ident[]: the first 16 bytes of the file say what kind of object it is.
#define EI_NIDENT    16
#define ELFMAG       "\177ELF"  // e_ident[0..SELFMAG-1]
#define SELFMAG      4
#define EI_CLASS     4          // e_ident index of the class ...
#define ELFCLASS64   2          // ... 64-bit objects
#define EI_DATA      5          // e_ident index of the byte order ...
#define ELFDATA2LSB  1          // ... little-endian
#define EI_VERSION   6          // e_ident index of the format version
#define EV_CURRENT   1

#define ET_EXEC      2          // e_type of an executable
#define EM_RISCV     243        // e_machine of RISC-V

// The file header, at offset 0.
struct elfhdr {
  uchar  e_ident[EI_NIDENT];
  ushort e_type;
  ushort e_machine;
  uint   e_version;
  uint64 e_entry;               // virtual address where execution starts
  uint64 e_phoff;               // file offset of the program header table
  uint64 e_shoff;               // file offset of the section header table (unused here)
  uint   e_flags;
  ushort e_ehsize;              // size of this header
  ushort e_phentsize;           // size of one program header
  ushort e_phnum;               // number of program headers
  ushort e_shentsize;
  ushort e_shnum;
  ushort e_shstrndx;
};

// A program header: one segment, or other information for the loader.
struct proghdr {
  uint   p_type;
  uint   p_flags;
  uint64 p_offset;              // file offset of the segment's bytes
  uint64 p_vaddr;               // virtual address of its first byte
  uint64 p_paddr;
  uint64 p_filesz;              // bytes in the file
  uint64 p_memsz;               // bytes in memory; those past p_filesz are zero
  uint64 p_align;
};

#define PT_LOAD      1          // p_type of a segment to load

// p_flags: the access a segment's pages allow.
#define PF_X         1
#define PF_W         2
#define PF_R         4

#endif
