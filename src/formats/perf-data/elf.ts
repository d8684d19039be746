/**
 * A small, bounded ELF reader for symbolization: the build-id note, the PT_LOAD segments (to
 * turn a file offset into a link-time address) and the function symbols of `.symtab`, else
 * `.dynsym`. Layouts from the System V gABI / <elf.h> (ELF64, little-endian only; x86-64 and
 * arm64 are what perf records here):
 *
 *   Elf64_Ehdr: e_ident[16], e_type u16 @16, e_phoff u64 @32, e_shoff u64 @40,
 *               e_phentsize u16 @54, e_phnum u16 @56, e_shentsize u16 @58, e_shnum u16 @60, e_shstrndx u16 @62
 *   Elf64_Phdr: p_type u32 @0, p_offset u64 @8, p_vaddr u64 @16, p_filesz u64 @32 (56 bytes)
 *   Elf64_Shdr: sh_name u32 @0, sh_type u32 @4, sh_flags u64 @8, sh_offset u64 @24, sh_size u64 @32,
 *               sh_link u32 @40, sh_entsize u64 @56 (64 bytes)
 *   Elf64_Sym:  st_name u32 @0, st_info u8 @4, st_shndx u16 @6, st_value u64 @8, st_size u64 @16 (24 bytes)
 *   Note:       namesz u32, descsz u32, type u32, name (4-aligned), desc (4-aligned); NT_GNU_BUILD_ID = 3
 *
 * The input is untrusted (any file a mapping named): every offset and count is checked against
 * the file size and fixed caps before it is used, reads are bounded, and a malformed file gives
 * `null` or an empty table, never an exception or a long loop.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { type PositionalReader, readAt } from './file-header.ts';
import { u64 } from './sample-layout.ts';
import { fileIdentity } from './symbol-table-cache.ts';
import { cstrEnd, NAME_TO_NUL, SymbolColumns } from './symtab.ts';

export interface ElfSegment {
  offset: number;
  vaddr: number;
  filesz: number;
}

export interface ElfInfo {
  /** ET_EXEC 2, ET_DYN 3, ... */
  type: number;
  buildId: string | null;
  loads: ElfSegment[];
  /** Which table the symbols came from. */
  table: 'symtab' | 'dynsym' | 'none';
  /** Link-time addresses (st_value), sizes, STB_* bindings and names. */
  symbols: SymbolColumns;
  /** The synthesized `name@plt` stubs (also in `symbols`), for a debug file's table that lacks them. */
  plt: { start: number; size: number; name: string }[];
  /** The file read, as fstat saw it (device, inode, size, mtime and ctime in ns): the symbol-table cache's key. */
  identity: string;
}

/**
 * What readElf reads: everything ('symbols'); all but the symbol columns ('headers': build-id,
 * segments, which table there is, PLT stubs); or only the build-id and segments ('build-id').
 */
export type ElfParts = 'symbols' | 'headers' | 'build-id';

const MAX_HEADERS = 4096;
const MAX_SYMTAB_BYTES = 512 << 20;
const MAX_STRTAB_BYTES = 512 << 20;
const MAX_NOTE_BYTES = 1 << 16;
const SHT_SYMTAB = 2;
const SHT_NOTE = 7;
const SHT_DYNSYM = 11;
const PT_LOAD = 1;
const PT_NOTE = 4;
const SHF_EXECINSTR = 4;
const SHN_UNDEF = 0;
const SHN_ABS = 0xfff1;
const STT_NOTYPE = 0;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const NT_GNU_BUILD_ID = 3;

interface Section {
  name: number;
  addr: number;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

/** Reads `path`; null when it cannot be opened or is not a little-endian ELF64 file. `true` is 'symbols', `false` 'build-id'. */
export async function readElf(path: string, what: ElfParts | boolean = 'symbols'): Promise<ElfInfo | null> {
  const parts = what === true ? 'symbols' : what === false ? 'build-id' : what;
  // Synchronous reads: a file's headers take a dozen small reads, and through the thread pool
  // each cost more than the read (tens of files per recording, several candidates each).
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO planted at a mapped path must not hang the decoder in open().
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile() || st.size > BigInt(Number.MAX_SAFE_INTEGER)) return null;
    const fh: PositionalReader = {
      read: async (buffer, offset, length, position) => ({
        bytesRead: readSync(fd, buffer, offset, length, position),
      }),
    };
    return await readOpenElf(fh, Number(st.size), parts, fileIdentity(st));
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

function inFile(offset: number, size: number, fileSize: number): boolean {
  return offset >= 0 && size >= 0 && offset <= fileSize && size <= fileSize - offset;
}

async function readOpenElf(
  fh: PositionalReader,
  fileSize: number,
  parts: ElfParts,
  identity: string,
): Promise<ElfInfo | null> {
  const eh = await readAt(fh, 0, 64);
  if (eh.length < 64 || eh[0] !== 0x7f || eh[1] !== 0x45 || eh[2] !== 0x4c || eh[3] !== 0x46) return null;
  if (eh[4] !== 2 || eh[5] !== 1) return null;
  const v = new DataView(eh.buffer, eh.byteOffset, eh.byteLength);
  const type = v.getUint16(16, true);
  const phoff = u64(v, 32);
  const shoff = u64(v, 40);
  const phentsize = v.getUint16(54, true);
  const phnum = v.getUint16(56, true);
  const shentsize = v.getUint16(58, true);
  const shnum = v.getUint16(60, true);
  const shstrndx = v.getUint16(62, true);
  const loads: ElfSegment[] = [];
  const notes: { offset: number; size: number }[] = [];
  if (phnum > 0 && phentsize >= 56 && phnum <= MAX_HEADERS && inFile(phoff, phnum * phentsize, fileSize)) {
    const ph = await readAt(fh, phoff, phnum * phentsize);
    const pv = new DataView(ph.buffer, ph.byteOffset, ph.byteLength);
    for (let i = 0; i < phnum; i++) {
      const at = i * phentsize;
      const pt = pv.getUint32(at, true);
      const offset = u64(pv, at + 8);
      const filesz = u64(pv, at + 32);
      if (pt === PT_LOAD) loads.push({ offset, vaddr: u64(pv, at + 16), filesz });
      else if (pt === PT_NOTE && inFile(offset, filesz, fileSize)) notes.push({ offset, size: filesz });
    }
  }
  const sections: Section[] = [];
  if (
    shnum > 0 &&
    shentsize >= 64 &&
    shnum <= MAX_HEADERS * 16 &&
    inFile(shoff, shnum * shentsize, fileSize)
  ) {
    const sh = await readAt(fh, shoff, shnum * shentsize);
    const sv = new DataView(sh.buffer, sh.byteOffset, sh.byteLength);
    for (let i = 0; i < shnum; i++) {
      const at = i * shentsize;
      sections.push({
        name: sv.getUint32(at, true),
        addr: u64(sv, at + 16),
        type: sv.getUint32(at + 4, true),
        flags: sv.getUint32(at + 8, true),
        offset: u64(sv, at + 24),
        size: u64(sv, at + 32),
        link: sv.getUint32(at + 40, true),
        entsize: u64(sv, at + 56),
      });
    }
  }
  if (notes.length === 0) {
    for (const s of sections)
      if (s.type === SHT_NOTE && inFile(s.offset, s.size, fileSize))
        notes.push({ offset: s.offset, size: s.size });
  }
  let buildId: string | null = null;
  for (const n of notes) {
    buildId = await findBuildId(fh, n.offset, Math.min(n.size, MAX_NOTE_BYTES));
    if (buildId !== null) break;
  }
  const machine = v.getUint16(18, true);
  const info: ElfInfo = {
    type,
    buildId,
    loads,
    table: 'none',
    symbols: new SymbolColumns(Buffer.alloc(0)),
    plt: [],
    identity,
  };
  if (parts === 'build-id') return info;
  const symtab = sections.find((s) => s.type === SHT_SYMTAB && s.size > 0);
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM && s.size > 0);
  const chosen = symtab ?? dynsym;
  if (chosen === undefined) return info;
  info.table = chosen === symtab ? 'symtab' : 'dynsym';
  if (parts === 'symbols') info.symbols = await readSymbols(fh, fileSize, chosen, sections);
  if (dynsym !== undefined) {
    const names = await sectionNames(fh, fileSize, sections, shstrndx);
    await pltSymbols(fh, fileSize, sections, names, dynsym, machine, info.plt);
    if (parts === 'symbols') for (const p of info.plt) info.symbols.addNamed(p.start, p.size, 1, p.name);
  }
  return info;
}

async function sectionNames(
  fh: PositionalReader,
  fileSize: number,
  sections: Section[],
  shstrndx: number,
): Promise<string[]> {
  const strs = sections[shstrndx];
  if (strs === undefined || strs.size > MAX_NOTE_BYTES * 16 || !inFile(strs.offset, strs.size, fileSize))
    return [];
  const b = await readAt(fh, strs.offset, strs.size);
  return sections.map((s) => {
    if (s.name >= b.length) return '';
    return b.toString('latin1', s.name, cstrEnd(b, s.name));
  });
}

/**
 * `name@plt` symbols for the PLT stubs, as perf 6.1 synthesizes them (dso__synthesize_plt_symbols):
 * one per `.rela.plt` (or `.rel.plt`) entry, in order, each `entry size` long after a header of
 * the same size (x86: .plt's sh_entsize; arm64: 32-byte header, 16-byte entries), named after
 * the dynamic symbol the relocation refers to.
 */
async function pltSymbols(
  fh: PositionalReader,
  fileSize: number,
  sections: Section[],
  names: string[],
  dynsym: Section,
  machine: number,
  out: ElfInfo['plt'],
): Promise<void> {
  const plt = sections[names.indexOf('.plt')];
  let relIdx = names.indexOf('.rela.plt');
  const rela = relIdx !== -1;
  if (!rela) relIdx = names.indexOf('.rel.plt');
  const rel = sections[relIdx];
  if (plt === undefined || rel === undefined || sections[rel.link] !== dynsym) return;
  const header = machine === 183 ? 32 : plt.entsize;
  const entry = machine === 183 ? 16 : plt.entsize;
  const relSize = Math.max(rel.entsize, rela ? 24 : 16);
  if (entry === 0 || rel.size > MAX_SYMTAB_BYTES || !inFile(rel.offset, rel.size, fileSize)) return;
  const strs = sections[dynsym.link];
  if (strs === undefined || !inFile(strs.offset, strs.size, fileSize) || strs.size > MAX_STRTAB_BYTES) return;
  if (!inFile(dynsym.offset, dynsym.size, fileSize) || dynsym.size > MAX_SYMTAB_BYTES) return;
  const [relBytes, symBytes, strBytes] = await Promise.all([
    readAt(fh, rel.offset, rel.size),
    readAt(fh, dynsym.offset, dynsym.size),
    readAt(fh, strs.offset, strs.size),
  ]);
  const rv = new DataView(relBytes.buffer, relBytes.byteOffset, relBytes.byteLength);
  const sv = new DataView(symBytes.buffer, symBytes.byteOffset, symBytes.byteLength);
  const symEnt = Math.max(dynsym.entsize, 24);
  const n = Math.floor(relBytes.length / relSize);
  for (let i = 0; i < n; i++) {
    const symIdx = rv.getUint32(i * relSize + 12, true);
    let name = '';
    if ((symIdx + 1) * symEnt <= symBytes.length) {
      const off = sv.getUint32(symIdx * symEnt, true);
      if (off < strBytes.length) {
        name = strBytes.toString('utf8', off, cstrEnd(strBytes, off));
      }
    }
    out.push({ start: plt.addr + header + i * entry, size: entry, name: `${name}@plt` });
  }
}

async function findBuildId(fh: PositionalReader, offset: number, size: number): Promise<string | null> {
  const b = await readAt(fh, offset, size);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 0;
  while (p + 12 <= b.length) {
    const namesz = v.getUint32(p, true);
    const descsz = v.getUint32(p + 4, true);
    const type = v.getUint32(p + 8, true);
    const nameAt = p + 12;
    const descAt = nameAt + align4(namesz);
    const next = descAt + align4(descsz);
    if (namesz > size || descsz > size || next > b.length) return null;
    if (type === NT_GNU_BUILD_ID && namesz === 4 && b.toString('latin1', nameAt, nameAt + 3) === 'GNU') {
      if (descsz === 0 || descsz > 64) return null;
      return b.toString('hex', descAt, descAt + descsz);
    }
    p = next;
  }
  return null;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * The symbols perf 6.1 keeps (dso__load_sym in tools/perf/util/symbol-elf.c): functions and GNU
 * indirect functions with a name, defined in some section; and untyped labels with a name in an
 * executable section.
 */
async function readSymbols(
  fh: PositionalReader,
  fileSize: number,
  s: Section,
  sections: Section[],
): Promise<SymbolColumns> {
  const strs = sections[s.link];
  const empty = new SymbolColumns(Buffer.alloc(0));
  if (strs === undefined) return empty;
  const entsize = Math.max(s.entsize, 24);
  if (s.size > MAX_SYMTAB_BYTES || !inFile(s.offset, s.size, fileSize)) return empty;
  if (strs.size > MAX_STRTAB_BYTES || !inFile(strs.offset, strs.size, fileSize)) return empty;
  const [tab, str] = await Promise.all([readAt(fh, s.offset, s.size), readAt(fh, strs.offset, strs.size)]);
  const v = new DataView(tab.buffer, tab.byteOffset, tab.byteLength);
  const out = new SymbolColumns(str);
  const n = Math.floor(tab.length / entsize);
  for (let i = 0; i < n; i++) {
    const at = i * entsize;
    const nameOff = v.getUint32(at, true);
    if (nameOff === 0 || nameOff >= str.length) continue;
    const info = tab[at + 4];
    const stType = info & 15;
    const shndx = v.getUint16(at + 6, true);
    if (shndx === SHN_UNDEF) continue;
    if (stType === STT_NOTYPE) {
      if (shndx === SHN_ABS) continue;
      const sec = sections[shndx];
      if (sec === undefined || (sec.flags & SHF_EXECINSTR) === 0) continue;
    } else if (stType !== STT_FUNC && stType !== STT_GNU_IFUNC) continue;
    const start = u64(v, at + 8);
    if (start === 0) continue;
    out.add(start, u64(v, at + 16), info >> 4, nameOff, NAME_TO_NUL);
  }
  return out;
}

/** The link-time address of file offset `off`, through the PT_LOAD segment holding it; NaN outside all. */
export function offsetToVaddr(loads: ElfSegment[], off: number): number {
  for (const l of loads) if (off >= l.offset && off < l.offset + l.filesz) return off - l.offset + l.vaddr;
  return Number.NaN;
}
