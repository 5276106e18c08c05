/*
 * powercut.c - an LD_PRELOAD library that records what a power cut would keep.
 *
 * kill -9 leaves the page cache intact, so it cannot tell a writer that forced its data
 * to disk from one that did not. This library watches the durability calls a process
 * makes on the files directly inside one directory and keeps, in a separate "shadow"
 * directory, a copy of exactly what those calls made durable:
 *
 *   fsync/fdatasync(file)   -> shadow/<name> = whole file content (atomic replace)
 *   msync(MS_SYNC)          -> the synced byte range is written into shadow/<name>
 *   fsync(watched dir)      -> shadow/.dirents = names whose directory entry is durable
 *   sync()/syncfs()         -> all of the above for every file in the directory
 *
 * After the process is killed, PowerCut.java rewrites the watched directory from the
 * shadow, which is what the disk would hold after a real power cut.
 *
 * Configuration (environment):
 *   REVENANT_POWERCUT_WATCH  absolute path of the watched directory
 *   REVENANT_POWERCUT_SHADOW absolute path of the shadow directory (created if missing)
 *   REVENANT_POWERCUT_TRACE  if non-empty, one stderr line per durability call observed
 * Without WATCH and SHADOW the library only forwards calls.
 *
 * Snapshot timing: the content is read *before* the real call is made and committed to
 * the shadow only once the real call has returned success. Everything written before the
 * call started is guaranteed durable by it; bytes other threads write while the call runs
 * are not, so they must not be captured. The shadow is never fsynced itself: it only has
 * to survive kill -9 of the writer, not a real power loss.
 *
 * Robustness rules: never crash or change the result of the host call (errors inside a
 * hook print one stderr line and the real result is returned with its errno), never call
 * an interposed function from inside a hook, no malloc on the hook paths (fixed buffers,
 * raw getdents64), one global mutex around all shadow work, and a per-thread guard so a
 * signal handler that syncs while its thread is inside a hook just forwards the call.
 *
 * sync_file_range is deliberately not interposed: it gives no durability guarantee
 * (no metadata, no disk cache flush), so the right treatment is "record nothing", which
 * is exactly what not hooking it does.
 *
 * Build: gcc -shared -fPIC -O2 -o libpowercut.so powercut.c -ldl -lpthread
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

typedef int (*fd_fn)(int);
typedef int (*msync_fn)(void *, size_t, int);
typedef void (*sync_fn)(void);
typedef void *(*dlsym_fn)(void *, const char *);

/* Real implementations, resolved once. */
static fd_fn real_fsync, real_fdatasync, real_syncfs;
static msync_fn real_msync;
static sync_fn real_sync;
static dlsym_fn real_dlsym;

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t shadow_lock = PTHREAD_MUTEX_INITIALIZER;

/* Set while this thread is inside a hook; initial-exec TLS needs no allocation. */
static __thread int in_hook __attribute__((tls_model("initial-exec")));

static int enabled;                 /* both env vars present */
static int tracing;
static char watch_raw[PATH_MAX];    /* as configured */
static char watch_real[PATH_MAX];   /* canonical (realpath), filled once */
/* Which of the two is in use; swapped once, atomically, so readers never see a half copy. */
static const char *watch_dir = watch_raw;
static pthread_mutex_t resolve_lock = PTHREAD_MUTEX_INITIALIZER;
static char shadow_dir[PATH_MAX];
static int shadow_ready;

/* One copy buffer shared by all hooks; only used under shadow_lock. */
#define COPY_BUF (256 * 1024)
static char copy_buf[COPY_BUF];
static char copy_buf2[COPY_BUF];

/* ---------- diagnostics without stdio or malloc ---------- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[PATH_MAX + 256];
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t ignored = write(2, line, (size_t)n);
    (void)ignored;
    errno = saved;
}

#define FAIL(...) say("powercut: " __VA_ARGS__)
#define TRACE(...) do { if (tracing) say("powercut-trace: " __VA_ARGS__); } while (0)

/* ---------- initialisation ---------- */

static void *next_symbol(const char *name)
{
    void *p = real_dlsym ? real_dlsym(RTLD_NEXT, name) : NULL;
    if (!p) FAIL("cannot resolve real %s", name);
    return p;
}

static void init(void)
{
    /* Our own dlsym is interposed, so the real one must come from dlvsym, which we do
     * not hook. glibc >= 2.34 exports dlsym@GLIBC_2.34 from libc; older versions only
     * have the x86_64 baseline version. */
    real_dlsym = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
    if (!real_dlsym) real_dlsym = (dlsym_fn)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
    if (!real_dlsym) FAIL("cannot resolve real dlsym");

    real_fsync = (fd_fn)next_symbol("fsync");
    real_fdatasync = (fd_fn)next_symbol("fdatasync");
    real_syncfs = (fd_fn)next_symbol("syncfs");
    real_msync = (msync_fn)next_symbol("msync");
    real_sync = (sync_fn)next_symbol("sync");

    const char *w = getenv("REVENANT_POWERCUT_WATCH");
    const char *s = getenv("REVENANT_POWERCUT_SHADOW");
    const char *t = getenv("REVENANT_POWERCUT_TRACE");
    tracing = t && *t;
    if (!w || !*w || !s || !*s) return;
    if (w[0] != '/' || s[0] != '/' || strlen(w) >= PATH_MAX || strlen(s) >= PATH_MAX) {
        FAIL("REVENANT_POWERCUT_WATCH/SHADOW must be absolute paths; tracking disabled");
        return;
    }
    strcpy(watch_raw, w);
    strcpy(shadow_dir, s);
    /* Trailing slashes would break the "<dir>/<name>" comparison. */
    for (size_t n = strlen(watch_raw); n > 1 && watch_raw[n - 1] == '/'; n--) watch_raw[n - 1] = 0;
    for (size_t n = strlen(shadow_dir); n > 1 && shadow_dir[n - 1] == '/'; n--) shadow_dir[n - 1] = 0;
    enabled = 1;
}

static inline void ensure_init(void)
{
    if (!real_dlsym) pthread_once(&init_once, init);
}

/* A forked child has only the forking thread: a lock held by another thread of the parent
 * would never be released there. */
static void after_fork_child(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    shadow_lock = fresh;
    resolve_lock = fresh;
    in_hook = 0;
}

__attribute__((constructor)) static void powercut_ctor(void)
{
    ensure_init();
    pthread_atfork(NULL, NULL, after_fork_child);
}

/* The watched directory may not exist yet when the process starts; paths read back from
 * /proc are canonical, so compare against realpath() as soon as it can be computed. */
static const char *watch(void)
{
    const char *w = __atomic_load_n(&watch_dir, __ATOMIC_ACQUIRE);
    if (w != watch_raw) return w;
    char buf[PATH_MAX];
    if (!realpath(watch_raw, buf)) return watch_raw;
    pthread_mutex_lock(&resolve_lock);
    if (__atomic_load_n(&watch_dir, __ATOMIC_ACQUIRE) == watch_raw) {
        strcpy(watch_real, buf);
        __atomic_store_n(&watch_dir, watch_real, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&resolve_lock);
    return __atomic_load_n(&watch_dir, __ATOMIC_ACQUIRE);
}

static int ensure_shadow(void)
{
    if (shadow_ready) return 0;
    /* mkdir -p, component by component. */
    char p[PATH_MAX];
    strcpy(p, shadow_dir);
    for (char *c = p + 1; *c; c++) {
        if (*c != '/') continue;
        *c = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) { FAIL("mkdir %s: %s", p, strerror(errno)); return -1; }
        *c = '/';
    }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) { FAIL("mkdir %s: %s", p, strerror(errno)); return -1; }
    shadow_ready = 1;
    return 0;
}

/* If path is "<watched dir>/<name>" with a plain name, return name, else NULL. */
static const char *watched_name(const char *path)
{
    const char *w = watch();
    size_t n = strlen(w);
    if (strncmp(path, w, n) != 0 || path[n] != '/') return NULL;
    const char *name = path + n + 1;
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) return NULL;
    return name;
}

static int fd_path(int fd, char *out, size_t cap)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, cap - 1);
    if (n < 0) return -1;
    out[n] = 0;
    return 0;
}

static int shadow_path(char *out, size_t cap, const char *prefix, const char *name, const char *suffix)
{
    int n = snprintf(out, cap, "%s/%s%s%s", shadow_dir, prefix, name, suffix);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int tmp_path(char *out, size_t cap, const char *name)
{
    /* The pid keeps two processes sharing a shadow directory off each other's temp file. */
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".%d.tmp", (int)getpid());
    return shadow_path(out, cap, ".", name, suffix);
}

/* ---------- copying ---------- */

static int all_zero(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) if (p[i]) return 0;
    return 1;
}

static int write_fully(int fd, const char *p, size_t n, off_t at)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, at);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        p += w; n -= (size_t)w; at += w;
    }
    return 0;
}

/* Copy [from, from+len) of src into dst at the same offset. With skip_zero, all-zero
 * chunks are left as holes, which keeps shadows of large sparse files (Chronicle's
 * pre-sized queue files) cheap; only valid when dst is fresh. */
static int copy_range(int src, int dst, off_t from, off_t len, int skip_zero)
{
    off_t end = from + len;
    while (from < end) {
        size_t want = (size_t)(end - from < COPY_BUF ? end - from : COPY_BUF);
        ssize_t r = pread(src, copy_buf, want, from);
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        if (r == 0) break; /* file shrank under us: the rest is simply absent */
        if (!(skip_zero && all_zero(copy_buf, (size_t)r)) && write_fully(dst, copy_buf, (size_t)r, from) != 0)
            return -1;
        from += r;
    }
    return 0;
}

/* Copy the whole of src (size bytes) into a fresh dst, walking only data extents. */
static int copy_sparse(int src, int dst, off_t size)
{
    off_t pos = 0;
    while (pos < size) {
        off_t data = lseek(src, pos, SEEK_DATA);
        if (data < 0) {
            if (errno == ENXIO) break;                            /* only a hole remains */
            return copy_range(src, dst, pos, size - pos, 1);      /* no SEEK_DATA support */
        }
        if (data >= size) break;
        off_t hole = lseek(src, data, SEEK_HOLE);
        if (hole < 0 || hole > size) hole = size;
        if (copy_range(src, dst, data, hole - data, 1) != 0) return -1;
        pos = hole;
    }
    return ftruncate(dst, size);
}

/* Prepared (not yet committed) whole-file snapshot. */
struct snapshot {
    char tmp[PATH_MAX];
    char final[PATH_MAX];
    int valid;
};

/* Snapshot the file open as src (named name) into a temp file in the shadow dir. */
static int snapshot_fd(int src, const char *name, struct snapshot *s)
{
    struct stat st;
    s->valid = 0;
    if (ensure_shadow() != 0) return -1;
    if (fstat(src, &st) != 0) { FAIL("fstat %s: %s", name, strerror(errno)); return -1; }
    if (!S_ISREG(st.st_mode)) return -1;
    if (tmp_path(s->tmp, sizeof s->tmp, name) || shadow_path(s->final, sizeof s->final, "", name, "")) {
        FAIL("shadow path too long for %s", name);
        return -1;
    }
    int dst = open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (dst < 0) { FAIL("open %s: %s", s->tmp, strerror(errno)); return -1; }
    int rc = copy_sparse(src, dst, st.st_size);
    if (rc != 0) FAIL("copy %s: %s", name, strerror(errno));
    close(dst);
    if (rc != 0) { unlink(s->tmp); return -1; }
    s->valid = 1;
    return 0;
}

static void commit(struct snapshot *s, int ok)
{
    if (!s->valid) return;
    if (!ok) { unlink(s->tmp); return; }
    if (rename(s->tmp, s->final) != 0) { FAIL("rename %s: %s", s->tmp, strerror(errno)); unlink(s->tmp); }
}

/* Snapshot "<watch>/<name>" by path (used by sync()). */
static int snapshot_name(const char *name, struct snapshot *s)
{
    char path[PATH_MAX];
    s->valid = 0;
    if (snprintf(path, sizeof path, "%s/%s", watch(), name) >= (int)sizeof path) return -1;
    int src = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (src < 0) return -1;
    int rc = snapshot_fd(src, name, s);
    close(src);
    return rc;
}

/* ---------- directory listings ---------- */

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* Calls fn(name, arg) for every entry of the watched directory except . and .. */
static int each_entry(void (*fn)(const char *, void *), void *arg)
{
    const char *w = watch();
    int dfd = open(w, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) { FAIL("open %s: %s", w, strerror(errno)); return -1; }
    static char dents[32 * 1024] __attribute__((aligned(8))); /* under shadow_lock */
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, dents, sizeof dents);
        if (n < 0) { FAIL("getdents %s: %s", w, strerror(errno)); close(dfd); return -1; }
        if (n == 0) break;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(dents + off);
            off += d->d_reclen;
            if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) continue;
            fn(d->d_name, arg);
        }
    }
    close(dfd);
    return 0;
}

struct dirents_writer { int fd; off_t at; int failed; };

static void add_dirent(const char *name, void *arg)
{
    struct dirents_writer *w = arg;
    if (w->failed) return;
    if (strchr(name, '\n')) { FAIL("name with newline not recorded: %s", name); return; }
    size_t n = strlen(name);
    if (write_fully(w->fd, name, n, w->at) != 0 || write_fully(w->fd, "\n", 1, w->at + (off_t)n) != 0) {
        FAIL("write .dirents: %s", strerror(errno));
        w->failed = 1;
        return;
    }
    w->at += (off_t)n + 1;
}

/* Write the current name list to a temp file, to be renamed to .dirents on success. */
static int snapshot_dirents(struct snapshot *s)
{
    s->valid = 0;
    if (ensure_shadow() != 0) return -1;
    if (tmp_path(s->tmp, sizeof s->tmp, "dirents") || shadow_path(s->final, sizeof s->final, ".", "dirents", ""))
        return -1;
    struct dirents_writer w = { open(s->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), 0, 0 };
    if (w.fd < 0) { FAIL("open %s: %s", s->tmp, strerror(errno)); return -1; }
    int rc = each_entry(add_dirent, &w);
    close(w.fd);
    if (rc != 0 || w.failed) { unlink(s->tmp); return -1; }
    s->valid = 1;
    return 0;
}

/* ---------- fsync / fdatasync ---------- */

enum target { NONE, FILE_IN_DIR, THE_DIR };

/* Classify fd; for a watched regular file, also return its name (points into path). */
static enum target classify_fd(int fd, char *path, size_t cap, const char **name)
{
    struct stat st;
    if (fd_path(fd, path, cap) != 0 || path[0] != '/') return NONE;
    if (fstat(fd, &st) != 0) return NONE;
    if (S_ISDIR(st.st_mode)) return strcmp(path, watch()) == 0 ? THE_DIR : NONE;
    if (!S_ISREG(st.st_mode) || st.st_nlink == 0) return NONE; /* nlink 0: unlinked, path says "(deleted)" */
    *name = watched_name(path);
    return *name ? FILE_IN_DIR : NONE;
}

static int sync_fd_hook(fd_fn real, const char *what, int fd)
{
    ensure_init();
    if (!real) { errno = ENOSYS; return -1; }
    if (!enabled || in_hook) return real(fd);

    in_hook = 1;
    char path[PATH_MAX];
    const char *name = NULL;
    enum target t = classify_fd(fd, path, sizeof path, &name);
    if (t == NONE) { in_hook = 0; return real(fd); }

    /* Held across the real call so snapshots of the same file commit in call order. */
    pthread_mutex_lock(&shadow_lock);
    struct snapshot s;
    if (t == THE_DIR) {
        snapshot_dirents(&s);
    } else {
        /* A fresh descriptor through /proc reads this exact inode even if fd is write-only. */
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        int src = open(proc, O_RDONLY | O_CLOEXEC);
        if (src < 0) { FAIL("reopen %s: %s", path, strerror(errno)); s.valid = 0; }
        else { snapshot_fd(src, name, &s); close(src); }
    }
    int rc = real(fd);
    int err = errno;
    commit(&s, rc == 0);
    pthread_mutex_unlock(&shadow_lock);
    TRACE("%s(%s) = %d%s", what, path, rc, s.valid ? "" : " (not recorded)");
    in_hook = 0;
    errno = err;
    return rc;
}

EXPORT int fsync(int fd) { return sync_fd_hook(real_fsync, "fsync", fd); }
EXPORT int fdatasync(int fd) { return sync_fd_hook(real_fdatasync, "fdatasync", fd); }

/* ---------- sync / syncfs ---------- */

#define MAX_SYNC_FILES 256

struct all_files { struct snapshot *snaps; int count; };

static void snapshot_entry(const char *name, void *arg)
{
    struct all_files *a = arg;
    if (a->count >= MAX_SYNC_FILES) { FAIL("sync: more than %d files, rest not recorded", MAX_SYNC_FILES); return; }
    if (snapshot_name(name, &a->snaps[a->count]) == 0) a->count++;
}

/* Snapshots of every file plus the listing, for sync()/syncfs(). Static: under the lock. */
static struct snapshot sync_snaps[MAX_SYNC_FILES];
static struct snapshot sync_dirents;

static int prepare_all(void)
{
    struct all_files a = { sync_snaps, 0 };
    each_entry(snapshot_entry, &a);
    snapshot_dirents(&sync_dirents);
    return a.count;
}

static void commit_all(int count, int ok)
{
    for (int i = 0; i < count; i++) commit(&sync_snaps[i], ok);
    commit(&sync_dirents, ok);
}

EXPORT void sync(void)
{
    ensure_init();
    if (!real_sync) return;
    if (!enabled || in_hook) { real_sync(); return; }
    in_hook = 1;
    pthread_mutex_lock(&shadow_lock);
    int n = prepare_all();
    real_sync();
    commit_all(n, 1);
    pthread_mutex_unlock(&shadow_lock);
    TRACE("sync() recorded %d files", n);
    in_hook = 0;
}

EXPORT int syncfs(int fd)
{
    ensure_init();
    if (!real_syncfs) { errno = ENOSYS; return -1; }
    if (!enabled || in_hook) return real_syncfs(fd);
    in_hook = 1;
    /* Only relevant when fd lives on the watched directory's filesystem. */
    struct stat a, b;
    if (fstat(fd, &a) != 0 || stat(watch(), &b) != 0 || a.st_dev != b.st_dev) {
        in_hook = 0;
        return real_syncfs(fd);
    }
    pthread_mutex_lock(&shadow_lock);
    int n = prepare_all();
    int rc = real_syncfs(fd);
    int err = errno;
    commit_all(n, rc == 0);
    pthread_mutex_unlock(&shadow_lock);
    TRACE("syncfs() = %d, recorded %d files", rc, n);
    in_hook = 0;
    errno = err;
    return rc;
}

/* ---------- msync ---------- */

/* A pending range copy for one mapping overlapped by the msync range. */
struct range_snap {
    char name[NAME_MAX + 1];
    char tmp[PATH_MAX];
    off_t offset, length, file_size;
};

#define MAX_RANGES 16
static struct range_snap ranges[MAX_RANGES]; /* under shadow_lock */

/* Parse one /proc/self/maps line; returns 1 if it is a shared mapping of a watched file
 * overlapping [lo, hi), filling the range to copy. */
static int match_mapping(char *line, uintptr_t lo, uintptr_t hi, struct range_snap *r)
{
    unsigned long start, end, off, ino;
    unsigned int maj, min;
    char perms[8];
    int pos = 0;
    if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &start, &end, perms, &off, &maj, &min, &ino, &pos) < 7)
        return 0;
    if (end <= lo || start >= hi || perms[3] != 's' || pos == 0 || line[pos] != '/') return 0;
    const char *name = watched_name(line + pos);
    if (!name || strlen(name) > NAME_MAX) return 0;

    /* The name may now belong to another file (or carry " (deleted)"): check the inode. */
    char path[PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", watch(), name) >= (int)sizeof path) return 0;
    if (stat(path, &st) != 0 || st.st_ino != (ino_t)ino || !S_ISREG(st.st_mode)) return 0;

    uintptr_t a = lo > start ? lo : start, b = hi < end ? hi : end;
    strcpy(r->name, name);
    r->offset = (off_t)(a - start + off);
    r->length = (off_t)(b - a);
    r->file_size = st.st_size;
    if (r->offset >= st.st_size) return 0;                 /* range lies beyond EOF */
    if (r->offset + r->length > st.st_size) r->length = st.st_size - r->offset;
    return 1;
}

/* Find every watched shared mapping overlapping [lo, hi). Reads /proc/self/maps with a
 * fixed buffer; returns the number of ranges found. */
static int find_ranges(uintptr_t lo, uintptr_t hi)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) { FAIL("open /proc/self/maps: %s", strerror(errno)); return 0; }
    static char line[PATH_MAX + 256]; /* under shadow_lock */
    size_t used = 0;
    int count = 0, too_long = 0;
    for (;;) {
        ssize_t n = read(fd, copy_buf2, COPY_BUF);
        if (n < 0) { if (errno == EINTR) continue; FAIL("read maps: %s", strerror(errno)); break; }
        if (n == 0) break;
        for (ssize_t i = 0; i < n; i++) {
            char c = copy_buf2[i];
            if (c != '\n') {
                if (used < sizeof line - 1) line[used++] = c; else too_long = 1;
                continue;
            }
            line[used] = 0;
            if (!too_long && count < MAX_RANGES && match_mapping(line, lo, hi, &ranges[count])) count++;
            used = 0;
            too_long = 0;
        }
    }
    close(fd);
    return count;
}

/* Copy the range out of the file into a temp file before the real msync runs. */
static int prepare_range(struct range_snap *r)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", watch(), r->name) >= (int)sizeof path) return -1;
    if (tmp_path(r->tmp, sizeof r->tmp - 8, r->name)) return -1;
    strcat(r->tmp, ".range");
    int src = open(path, O_RDONLY | O_CLOEXEC);
    if (src < 0) { FAIL("open %s: %s", path, strerror(errno)); return -1; }
    int dst = open(r->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (dst < 0) { FAIL("open %s: %s", r->tmp, strerror(errno)); close(src); return -1; }
    int rc = copy_range(src, dst, r->offset, r->length, 1);
    if (rc == 0) rc = ftruncate(dst, r->offset + r->length);
    if (rc != 0) FAIL("copy range of %s: %s", r->name, strerror(errno));
    close(src);
    close(dst);
    return rc;
}

/* After a successful msync: write the range into shadow/<name>, creating the shadow as a
 * zero-filled file of the file's size if needed and growing it if the file grew. */
static void commit_range(struct range_snap *r)
{
    char final[PATH_MAX];
    if (shadow_path(final, sizeof final, "", r->name, "")) return;
    int src = open(r->tmp, O_RDONLY | O_CLOEXEC);
    if (src < 0) { FAIL("open %s: %s", r->tmp, strerror(errno)); return; }
    int dst = open(final, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    struct stat st;
    if (dst < 0 || fstat(dst, &st) != 0) {
        FAIL("open %s: %s", final, strerror(errno));
    } else {
        if (st.st_size < r->file_size && ftruncate(dst, r->file_size) != 0)
            FAIL("extend %s: %s", final, strerror(errno));
        /* Not skip_zero: zeros in the range must overwrite older shadow bytes. */
        if (copy_range(src, dst, r->offset, r->length, 0) != 0) FAIL("write %s: %s", final, strerror(errno));
    }
    if (dst >= 0) close(dst);
    close(src);
    unlink(r->tmp);
}

EXPORT int msync(void *addr, size_t len, int flags)
{
    ensure_init();
    if (!real_msync) { errno = ENOSYS; return -1; }
    /* MS_ASYNC only schedules writeback: nothing becomes durable. */
    if (!enabled || in_hook || !(flags & MS_SYNC)) return real_msync(addr, len, flags);

    in_hook = 1;
    pthread_mutex_lock(&shadow_lock);
    uintptr_t lo = (uintptr_t)addr, hi = lo + len < lo ? UINTPTR_MAX : lo + len;
    int n = ensure_shadow() == 0 ? find_ranges(lo, hi) : 0;
    int ready[MAX_RANGES];
    for (int i = 0; i < n; i++) ready[i] = prepare_range(&ranges[i]) == 0;
    int rc = real_msync(addr, len, flags);
    int err = errno;
    for (int i = 0; i < n; i++) {
        if (!ready[i]) continue;
        if (rc == 0) commit_range(&ranges[i]); else unlink(ranges[i].tmp);
        TRACE("msync(%s @%lld+%lld) = %d", ranges[i].name, (long long)ranges[i].offset,
              (long long)ranges[i].length, rc);
    }
    pthread_mutex_unlock(&shadow_lock);
    in_hook = 0;
    errno = err;
    return rc;
}

/* ---------- dlsym ---------- */

/* Code that looks functions up at run time (jnr-ffi/jffi, Panama lookups on a library
 * handle) bypasses LD_PRELOAD interposition, because dlsym(handle, ...) searches that
 * library rather than the global scope. Hand back our wrappers for the names we hook. */
static void *hooked_lookup(void *handle, const char *name)
{
    void *found = real_dlsym(handle, name);
    void *mine = NULL, *theirs = NULL;
    if (!strcmp(name, "msync")) { mine = (void *)msync; theirs = (void *)real_msync; }
    else if (!strcmp(name, "fsync")) { mine = (void *)fsync; theirs = (void *)real_fsync; }
    else if (!strcmp(name, "fdatasync")) { mine = (void *)fdatasync; theirs = (void *)real_fdatasync; }
    else if (!strcmp(name, "syncfs")) { mine = (void *)syncfs; theirs = (void *)real_syncfs; }
    else if (!strcmp(name, "sync")) { mine = (void *)sync; theirs = (void *)real_sync; }
    /* Only substitute when the lookup found the very function we wrap (libc's). */
    if (found && found == theirs) {
        TRACE("dlsym(%s) -> powercut wrapper", name);
        return mine;
    }
    return found;
}

static inline int is_hooked_name(const char *n)
{
    /* Cheap first-letter filter: dlsym is hot during JVM start-up (JNI linking). */
    return (n[0] == 'm' && !strcmp(n, "msync")) ||
           (n[0] == 'f' && (!strcmp(n, "fsync") || !strcmp(n, "fdatasync"))) ||
           (n[0] == 's' && (!strcmp(n, "sync") || !strcmp(n, "syncfs")));
}

EXPORT void *dlsym(void *handle, const char *name)
{
    ensure_init();
    if (!real_dlsym) return NULL;
    /* RTLD_NEXT is resolved relative to the caller, which glibc finds from the return
     * address. The plain forward below compiles to a tail jump, so glibc still sees the
     * original caller; a wrapper asking for the "next" msync must get the real one, or it
     * would call itself through us. */
    if (handle != RTLD_NEXT && is_hooked_name(name)) return hooked_lookup(handle, name);
    return real_dlsym(handle, name);
}
