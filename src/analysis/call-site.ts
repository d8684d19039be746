/**
 * The user-space call site of a syscall: the first frame above the C library's syscall wrapper,
 * so `posix_fadvise` is reported as the application function that called it.
 */
import type { CallGraphMode } from '../model/profile.ts';

/** Libraries whose functions are syscall wrappers, not call sites: glibc, musl, the dynamic loader. */
const wrapperModule =
  /(?:^|\/)(?:libc[.-][^/]*|libc\.so[^/]*|ld-linux[^/]*|ld-[0-9.]+\.so|ld-musl[^/]*|libpthread[.-][^/]*|librt[.-][^/]*)$/;
/** Wrapper functions outside those libraries (Go's syscall package, statically linked libc). */
const wrapperFunction =
  /^(?:syscall|__syscall\w*|__internal_syscall\w*|__GI_\w+|__libc_\w+|(?:syscall|internal\/runtime\/syscall|runtime\/internal\/syscall|golang\.org\/x\/sys\/unix)\.(?:Syscall\w*|RawSyscall\w*|syscall\w*|rawSyscall\w*|rawVforkSyscall))$/;
/**
 * glibc and musl syscall wrappers by their exported names, for statically linked programs, where
 * the wrapper sits in the program's own module: `posix_fadvise (workload)`. A C program cannot
 * define a function with one of these names without replacing libc's, so the name is enough.
 * Like libc's shared copy, the static one has no frame pointer: frame-pointer unwinding skips its
 * caller. Optional `__` / `__libc_` prefixes and glibc's `64`, `_nocancel` and `_l64` suffixes.
 */
const staticWrapper =
  /^(?:__)?(?:libc_)?(?:read|write|pread|pwrite|readv|writev|preadv|pwritev|open|openat|close|creat|stat|fstat|lstat|fstatat|newfstatat|statx|statfs|fstatfs|fsync|fdatasync|sync_file_range|syncfs|posix_fadvise|fadvise|fallocate|posix_fallocate|ftruncate|truncate|lseek|mmap|munmap|mprotect|madvise|msync|ioctl|fcntl|getdents|unlink|unlinkat|mkdir|mkdirat|rmdir|rename|renameat2?|access|faccessat|nanosleep|clock_nanosleep|poll|ppoll|select|pselect|epoll_wait|epoll_pwait|send|sendto|sendmsg|recv|recvfrom|recvmsg|accept4?|connect|futex|sched_yield)(?:64)?(?:_nocancel|_l64)?$/;

/** Functions that start a process or thread: never the code that issued a syscall. */
const processEntry =
  /^(?:_start|__libc_start_main\w*|__libc_start_call_main|start_thread|clone3?|__clone3?|thread_start|runtime\.goexit\w*|runtime\.main|runtime\.rt0_go)$/;

export interface UserFrame {
  name: string;
  module: string;
  /** The frame's module is unknown and so is its symbol. */
  unknown: boolean;
}

export type CallSite =
  | { status: 'found'; function: string; module: string; wrapper: string | null }
  /** Frame-pointer unwinding skipped the wrapper's caller (libc is built without frame pointers). */
  | { status: 'lost'; wrapper: string; reason: 'frame-pointer' | 'process-entry' }
  /** The stack ends inside the wrapper (truncated call chain). */
  | { status: 'none'; wrapper: string | null }
  /** The call site is a frame perf could not symbolise. */
  | { status: 'unknown'; module: string; wrapper: string | null };

export function isWrapperFrame(f: UserFrame): boolean {
  return wrapperModule.test(f.module) || wrapperFunction.test(f.name) || staticWrapper.test(f.name);
}

/** A C library wrapper (shared or linked into the program): it keeps no frame pointer. */
function isLibcWrapper(f: UserFrame): boolean {
  return wrapperModule.test(f.module) || staticWrapper.test(f.name) || /^__(?:GI_|libc_)/.test(f.name);
}

/**
 * `userLeafFirst`: the user frames of one stack, innermost first (the frame that entered the
 * kernel comes first).
 */
export function callSiteOf(userLeafFirst: readonly UserFrame[], mode: CallGraphMode): CallSite {
  return locateCallSite(userLeafFirst, mode).site;
}

/** callSiteOf, with the index in `userLeafFirst` of the call site's frame (-1 unless found). */
export function locateCallSite(
  userLeafFirst: readonly UserFrame[],
  mode: CallGraphMode,
): { site: CallSite; at: number } {
  const site = (s: CallSite, at = -1) => ({ site: s, at });
  let i = 0;
  let wrapper: string | null = null;
  let skippedLibc = false;
  while (
    i < userLeafFirst.length &&
    isWrapperFrame(userLeafFirst[i]) &&
    !processEntry.test(userLeafFirst[i].name)
  ) {
    if (isLibcWrapper(userLeafFirst[i])) skippedLibc = true;
    // The outermost wrapper frame names the API the application called (fwrite, not __GI___libc_write).
    wrapper = userLeafFirst[i].name;
    i++;
  }
  if (skippedLibc && mode === 'fp')
    return site({ status: 'lost', wrapper: wrapper ?? '', reason: 'frame-pointer' });
  if (i === userLeafFirst.length) return site({ status: 'none', wrapper });
  const f = userLeafFirst[i];
  if (processEntry.test(f.name))
    return site({ status: 'lost', wrapper: wrapper ?? '', reason: 'process-entry' });
  if (f.unknown || f.name === '[unknown]') return site({ status: 'unknown', module: f.module, wrapper });
  return site({ status: 'found', function: f.name, module: f.module, wrapper }, i);
}

/**
 * A symbol without its argument list: `LogFileObject::Write(char const*, unsigned long)` ->
 * `LogFileObject::Write`. Keeps `(anonymous namespace)`, Go receivers (`os.(*File).Write`) and
 * parentheses inside template arguments.
 */
export function functionNameOf(symbol: string): string {
  let depth = 0;
  for (let i = 0; i < symbol.length; i++) {
    const c = symbol[i];
    if (c === '<') depth++;
    else if (c === '>') depth--;
    else if (c === '(' && depth <= 0) {
      // Go methods: `os.(*File).Write`.
      if (i > 0 && symbol[i - 1] === '.') continue;
      if (symbol.startsWith('(anonymous namespace)', i)) {
        i += '(anonymous namespace)'.length - 1;
        continue;
      }
      if (i === 0) return symbol;
      return symbol.slice(0, i);
    }
  }
  return symbol;
}
