/*
 * faultfs: an LD_PRELOAD library that makes writes to the journal fail on demand, for the reliability suite.
 *
 * Linux refuses to remount a file system read-only while a process holds a file open for writing, so a
 * journal cannot be made read-only under a running Sluice. This library does it from the inside: while the
 * file named by CHAOS_FAULTFS_FLAG exists, every write, pwrite, fsync, fdatasync, ftruncate and fallocate on
 * a file whose path starts with CHAOS_FAULTFS_PREFIX fails with the errno named in the flag file
 * (EROFS, EIO or ENOSPC; EROFS when the file is empty). Everything else passes through untouched.
 *
 * Built by the chaos scenarios with: cc -shared -fPIC -O2 -o faultfs.so faultfs.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static int injected_errno(int fd) {
    const char *flag = getenv("CHAOS_FAULTFS_FLAG");
    const char *prefix = getenv("CHAOS_FAULTFS_PREFIX");
    if (flag == NULL || prefix == NULL || fd < 0) return 0;
    int saved = errno;
    int f = (int)syscall(SYS_openat, AT_FDCWD, flag, O_RDONLY | O_CLOEXEC);
    if (f < 0) {
        errno = saved;
        return 0;
    }
    char name[16] = {0};
    ssize_t n = syscall(SYS_read, f, name, sizeof(name) - 1);
    syscall(SYS_close, f);
    char link[64];
    char path[4096];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t len = syscall(SYS_readlinkat, AT_FDCWD, link, path, sizeof(path) - 1);
    errno = saved;
    if (len <= 0) return 0;
    path[len] = 0;
    if (strncmp(path, prefix, strlen(prefix)) != 0) return 0;
    if (n > 0 && strncmp(name, "EIO", 3) == 0) return EIO;
    if (n > 0 && strncmp(name, "ENOSPC", 6) == 0) return ENOSPC;
    return EROFS;
}

#define REAL(name) static name##_fn real_##name; if (!real_##name) real_##name = (name##_fn)dlsym(RTLD_NEXT, #name)
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void *, size_t, off64_t);
typedef int (*fsync_fn)(int);
typedef int (*fdatasync_fn)(int);
typedef int (*ftruncate_fn)(int, off_t);
typedef int (*ftruncate64_fn)(int, off64_t);
typedef int (*fallocate_fn)(int, int, off_t, off_t);
typedef int (*posix_fallocate_fn)(int, off_t, off_t);

#define FAIL_IF_INJECTED(fd, value) do { int e = injected_errno(fd); if (e) { errno = e; return value; } } while (0)

ssize_t write(int fd, const void *buf, size_t count) {
    REAL(write);
    FAIL_IF_INJECTED(fd, -1);
    return real_write(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    REAL(pwrite);
    FAIL_IF_INJECTED(fd, -1);
    return real_pwrite(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
    REAL(pwrite64);
    FAIL_IF_INJECTED(fd, -1);
    return real_pwrite64(fd, buf, count, offset);
}

int fsync(int fd) {
    REAL(fsync);
    FAIL_IF_INJECTED(fd, -1);
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    FAIL_IF_INJECTED(fd, -1);
    return real_fdatasync(fd);
}

int ftruncate(int fd, off_t length) {
    REAL(ftruncate);
    FAIL_IF_INJECTED(fd, -1);
    return real_ftruncate(fd, length);
}

int ftruncate64(int fd, off64_t length) {
    REAL(ftruncate64);
    FAIL_IF_INJECTED(fd, -1);
    return real_ftruncate64(fd, length);
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
    REAL(fallocate);
    FAIL_IF_INJECTED(fd, -1);
    return real_fallocate(fd, mode, offset, len);
}

int posix_fallocate(int fd, off_t offset, off_t len) {
    REAL(posix_fallocate);
    int e = injected_errno(fd);
    if (e) return e;
    return real_posix_fallocate(fd, offset, len);
}
