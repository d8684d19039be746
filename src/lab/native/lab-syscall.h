/*
 * System calls issued inline, from the function that wants them.
 *
 * Why not the libc wrappers: glibc's write(), posix_fadvise(), fsync() are leaf functions built
 * without frame pointers. When perf unwinds a user stack by frame pointers, the sampled ip is in the
 * wrapper and the saved frame pointer still belongs to the wrapper's caller, so the walk resumes at
 * the caller's caller: the function that made the call (LogFileObject::Write) vanishes from every
 * frame-pointer stack. Issuing the instruction inline makes the named call site the innermost user
 * frame under both frame-pointer and DWARF unwinding. The kernel side (entry, sys_fadvise64, ...) is
 * identical to what the libc wrapper produces.
 */
#ifndef CROSSTALK_LAB_SYSCALL_H
#define CROSSTALK_LAB_SYSCALL_H

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LAB_INLINE static inline __attribute__((always_inline))

#if defined(__x86_64__)
LAB_INLINE long lab_syscall4(long nr, long a, long b, long c, long d) {
  long ret;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
LAB_INLINE long lab_syscall4(long nr, long a, long b, long c, long d) {
  register long x8 __asm__("x8") = nr;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
}
#else
/* Other architectures: the libc wrapper; the call site may then be missing from frame-pointer stacks. */
LAB_INLINE long lab_syscall4(long nr, long a, long b, long c, long d) {
  long r = syscall(nr, a, b, c, d);
  return r < 0 ? -(long)errno : r;
}
#endif

/* Each returns the raw kernel result: >= 0 on success, -errno on failure. */
LAB_INLINE long lab_write(int fd, const void *buf, unsigned long len) {
  return lab_syscall4(SYS_write, fd, (long)buf, (long)len, 0);
}
LAB_INLINE long lab_pread(int fd, void *buf, unsigned long len, long off) {
  return lab_syscall4(SYS_pread64, fd, (long)buf, (long)len, off);
}
LAB_INLINE long lab_fadvise(int fd, long off, long len, int advice) {
  return lab_syscall4(SYS_fadvise64, fd, off, len, advice);
}
LAB_INLINE long lab_fsync(int fd) { return lab_syscall4(SYS_fsync, fd, 0, 0, 0); }
LAB_INLINE long lab_fdatasync(int fd) { return lab_syscall4(SYS_fdatasync, fd, 0, 0, 0); }
LAB_INLINE long lab_openat(int dirfd, const char *path, int flags, int mode) {
  return lab_syscall4(SYS_openat, dirfd, (long)path, flags, mode);
}
LAB_INLINE long lab_close(int fd) { return lab_syscall4(SYS_close, fd, 0, 0, 0); }
/* glibc's stat()/fstatat() use newfstatat on both x86_64 and aarch64. */
LAB_INLINE long lab_fstatat(int dirfd, const char *path, void *st, int flags) {
  return lab_syscall4(SYS_newfstatat, dirfd, (long)path, (long)st, flags);
}

#endif
