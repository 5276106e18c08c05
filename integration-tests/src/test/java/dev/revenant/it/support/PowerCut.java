package dev.revenant.it.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Simulates a power cut for a process that wrote files into one directory.
 *
 * <p>{@code kill -9} leaves the page cache intact, so every byte a killed process wrote is
 * still readable afterwards, forced or not. To see what a power cut would leave, run the
 * process under {@link #library()} (an LD_PRELOAD library, see {@code src/test/native/powercut.c})
 * with {@link #env(Path, Path)}: it records in a shadow directory what each completed
 * {@code fsync}/{@code fdatasync}/{@code msync(MS_SYNC)} made durable and which directory
 * entries a directory {@code fsync} made durable. After killing the process,
 * {@link #apply(Path, Path)} rewrites the watched directory to exactly that state.
 *
 * <p>Only regular files directly inside the watched directory are tracked.
 */
public final class PowerCut {

    /** Environment variable naming the watched directory. */
    public static final String WATCH_ENV = "REVENANT_POWERCUT_WATCH";
    /** Environment variable naming the shadow directory (the library's state). */
    public static final String SHADOW_ENV = "REVENANT_POWERCUT_SHADOW";
    /** Environment variable that, when non-empty, makes the library trace calls to stderr. */
    public static final String TRACE_ENV = "REVENANT_POWERCUT_TRACE";
    /** System property that overrides where the integration-tests module lives. */
    public static final String MODULE_DIR_PROPERTY = "revenant.it.moduleDir";

    /** Name of the file, in the shadow directory, listing the durable directory entries. */
    static final String DIRENTS = ".dirents";
    private static final String SOURCE = "src/test/native/powercut.c";
    private static final int CHUNK = 1 << 20;

    private static Path built;

    private PowerCut() {
    }

    /**
     * Compiles the preload library (once, and again only when the source is newer) and
     * returns its absolute path, {@code <module>/target/powercut/libpowercut.so}.
     */
    public static synchronized Path library() {
        Path module = moduleDir();
        Path source = module.resolve(SOURCE);
        Path out = module.resolve("target/powercut/libpowercut.so");
        try {
            if (built != null && built.equals(out) && !isStale(out, source)) {
                return out;
            }
            if (isStale(out, source)) {
                compile(source, out);
            }
            built = out;
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot build " + out, e);
        }
    }

    /**
     * Environment entries that run a child process under the library: {@code LD_PRELOAD}
     * (prepended to any inherited value) and the watch/shadow directories. The directories
     * are made absolute; the shadow directory is created by the library when first needed.
     */
    public static Map<String, String> env(Path watchDir, Path shadowDir) {
        String lib = library().toString();
        String inherited = System.getenv("LD_PRELOAD");
        Map<String, String> env = new LinkedHashMap<>();
        env.put("LD_PRELOAD", inherited == null || inherited.isBlank() ? lib : lib + ":" + inherited);
        env.put(WATCH_ENV, watchDir.toAbsolutePath().normalize().toString());
        env.put(SHADOW_ENV, shadowDir.toAbsolutePath().normalize().toString());
        return env;
    }

    /**
     * Applies the power cut to {@code watchDir}. Call only once the process that wrote it
     * is dead. Rules, per name:
     * <ul>
     *   <li>present but not listed in {@code .dirents} (or no {@code .dirents} at all):
     *       its directory entry never became durable, the file is deleted;</li>
     *   <li>listed, with a shadow copy: the file gets exactly the shadow's bytes and length;</li>
     *   <li>listed, without a shadow copy: its data never became durable, it is truncated to 0;</li>
     *   <li>listed but missing (unlinked after the last directory sync): the unlink was not
     *       durable, so the file comes back with its shadow content, or empty.</li>
     * </ul>
     * Sub-directories, symbolic links and other non-regular entries are left alone.
     */
    public static Report apply(Path watchDir, Path shadowDir) throws IOException {
        Set<String> durable = readDirents(shadowDir);
        List<String> deleted = new ArrayList<>();
        List<String> reverted = new ArrayList<>();
        List<String> truncated = new ArrayList<>();
        List<String> resurrected = new ArrayList<>();
        List<String> unchanged = new ArrayList<>();
        long bytesLost = 0;

        Set<String> present = new TreeSet<>();
        try (Stream<Path> files = Files.list(watchDir)) {
            files.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                    .forEach(p -> present.add(p.getFileName().toString()));
        }

        for (String name : present) {
            Path file = watchDir.resolve(name);
            Path shadow = shadowOf(shadowDir, name);
            long size = Files.size(file);
            if (!durable.contains(name)) {
                Files.delete(file);
                deleted.add(name);
                bytesLost += size;
            } else if (shadow == null) {
                if (size == 0) {
                    unchanged.add(name);
                } else {
                    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                        ch.truncate(0);
                    }
                    truncated.add(name);
                    bytesLost += size;
                }
            } else {
                long[] diff = compare(file, shadow);
                if (diff[1] == 0) {
                    unchanged.add(name);
                } else {
                    restore(shadow, file);
                    reverted.add(name);
                    bytesLost += diff[0];
                }
            }
        }
        for (String name : durable) {
            Path file = watchDir.resolve(name);
            if (present.contains(name) || Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                continue; // present, or a directory/symlink we do not manage
            }
            Path shadow = shadowOf(shadowDir, name);
            if (shadow != null) {
                restore(shadow, file);
            } else {
                Files.createFile(file);
            }
            resurrected.add(name);
        }
        return new Report(deleted, reverted, truncated, resurrected, unchanged, bytesLost);
    }

    /**
     * Declares everything currently in {@code watchDir} durable, as a clean shutdown followed
     * by {@code sync} would: copies every regular file into the shadow and lists every name in
     * {@code .dirents}. Useful to seed a directory a test prepared without the library, or to
     * start a new cut cycle after a recovery that ran without it.
     */
    public static void markAllDurable(Path watchDir, Path shadowDir) throws IOException {
        Files.createDirectories(shadowDir);
        StringBuilder names = new StringBuilder();
        try (Stream<Path> files = Files.list(watchDir)) {
            for (Path p : (Iterable<Path>) files.sorted()::iterator) {
                String name = p.getFileName().toString();
                names.append(name).append('\n');
                if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    atomicWrite(shadowDir.resolve(name), tmp -> Files.copy(p, tmp, StandardCopyOption.REPLACE_EXISTING));
                }
            }
        }
        byte[] listing = names.toString().getBytes(StandardCharsets.UTF_8);
        atomicWrite(shadowDir.resolve(DIRENTS), tmp -> Files.write(tmp, listing));
    }

    /** What {@link #apply} did; lists hold file names, sorted. */
    public static final class Report {
        private final List<String> deleted;
        private final List<String> reverted;
        private final List<String> truncated;
        private final List<String> resurrected;
        private final List<String> unchanged;
        private final long bytesLost;

        Report(List<String> deleted, List<String> reverted, List<String> truncated,
               List<String> resurrected, List<String> unchanged, long bytesLost) {
            this.deleted = sorted(deleted);
            this.reverted = sorted(reverted);
            this.truncated = sorted(truncated);
            this.resurrected = sorted(resurrected);
            this.unchanged = sorted(unchanged);
            this.bytesLost = bytesLost;
        }

        /** Files removed because their directory entry was never made durable. */
        public List<String> deleted() {
            return deleted;
        }

        /** Files rewritten to their last durable content. */
        public List<String> reverted() {
            return reverted;
        }

        /** Files whose entry was durable but whose data never was: now empty. */
        public List<String> truncated() {
            return truncated;
        }

        /** Files unlinked after the last directory sync, brought back. */
        public List<String> resurrected() {
            return resurrected;
        }

        /** Files whose whole current content was already durable. */
        public List<String> unchanged() {
            return unchanged;
        }

        /** Bytes of the pre-cut files that did not survive (differing or cut-off positions). */
        public long bytesLost() {
            return bytesLost;
        }

        /** True when the cut changed nothing. */
        public boolean nothingLost() {
            return deleted.isEmpty() && reverted.isEmpty() && truncated.isEmpty() && resurrected.isEmpty();
        }

        @Override
        public String toString() {
            return "PowerCut.Report{deleted=" + deleted + ", reverted=" + reverted + ", truncated=" + truncated
                    + ", resurrected=" + resurrected + ", unchanged=" + unchanged + ", bytesLost=" + bytesLost + "}";
        }

        private static List<String> sorted(List<String> names) {
            List<String> copy = new ArrayList<>(names);
            Collections.sort(copy);
            return Collections.unmodifiableList(copy);
        }
    }

    // ---------------------------------------------------------------- internals

    private static Path moduleDir() {
        String configured = System.getProperty(MODULE_DIR_PROPERTY);
        if (configured != null && !configured.isBlank()) {
            Path dir = Paths.get(configured).toAbsolutePath().normalize();
            if (!Files.isRegularFile(dir.resolve(SOURCE))) {
                throw new IllegalStateException(MODULE_DIR_PROPERTY + "=" + dir + " has no " + SOURCE);
            }
            return dir;
        }
        // Surefire runs with the module as working directory; an IDE may use the repo root.
        Path cwd = Paths.get("").toAbsolutePath().normalize();
        for (Path candidate : List.of(cwd, cwd.resolve("integration-tests"))) {
            if (Files.isRegularFile(candidate.resolve(SOURCE))) {
                return candidate;
            }
        }
        throw new IllegalStateException("cannot find " + SOURCE + " from " + cwd + "; set -D" + MODULE_DIR_PROPERTY);
    }

    private static boolean isStale(Path out, Path source) throws IOException {
        if (!Files.isRegularFile(out)) {
            return true;
        }
        FileTime built = Files.getLastModifiedTime(out);
        return built.compareTo(Files.getLastModifiedTime(source)) < 0;
    }

    private static void compile(Path source, Path out) throws IOException {
        Files.createDirectories(out.getParent());
        // Build under a unique name and move into place: parallel test JVMs may race here,
        // and a half-written .so must never be preloaded.
        Path tmp = Files.createTempFile(out.getParent(), "libpowercut", ".so.tmp");
        List<String> cmd = Arrays.asList("gcc", "-shared", "-fPIC", "-O2", "-Wall",
                "-o", tmp.toString(), source.toString(), "-ldl", "-lpthread");
        Process gcc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output;
        try (InputStream in = gcc.getInputStream()) {
            output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        try {
            if (!gcc.waitFor(120, TimeUnit.SECONDS)) {
                gcc.destroyForcibly();
                throw new IOException("gcc timed out: " + String.join(" ", cmd));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while compiling " + source, e);
        }
        if (gcc.exitValue() != 0) {
            Files.deleteIfExists(tmp);
            throw new IOException("gcc failed (" + gcc.exitValue() + "): " + String.join(" ", cmd) + "\n" + output);
        }
        moveAtomically(tmp, out);
    }

    private static Set<String> readDirents(Path shadowDir) throws IOException {
        Path dirents = shadowDir.resolve(DIRENTS);
        Set<String> names = new LinkedHashSet<>();
        if (Files.isRegularFile(dirents)) {
            for (String line : Files.readAllLines(dirents, StandardCharsets.UTF_8)) {
                if (!line.isEmpty()) {
                    names.add(line);
                }
            }
        }
        return names;
    }

    private static Path shadowOf(Path shadowDir, String name) {
        Path shadow = shadowDir.resolve(name);
        return Files.isRegularFile(shadow, LinkOption.NOFOLLOW_LINKS) ? shadow : null;
    }

    /**
     * Compares a file with its shadow: {@code [0]} counts positions of the file whose byte
     * does not survive (different, or beyond the shadow's end), {@code [1]} is 1 when the
     * two differ at all (a file that shrank loses nothing but still has to be restored).
     */
    private static long[] compare(Path file, Path shadow) throws IOException {
        try (FileChannel a = FileChannel.open(file, StandardOpenOption.READ);
             FileChannel b = FileChannel.open(shadow, StandardOpenOption.READ)) {
            long sizeA = a.size();
            long sizeB = b.size();
            long common = Math.min(sizeA, sizeB);
            long lost = sizeA - common;
            ByteBuffer ba = ByteBuffer.allocate(CHUNK);
            ByteBuffer bb = ByteBuffer.allocate(CHUNK);
            for (long pos = 0; pos < common; ) {
                int n = (int) Math.min(CHUNK, common - pos);
                readFully(a, ba, pos, n);
                readFully(b, bb, pos, n);
                byte[] x = ba.array();
                byte[] y = bb.array();
                if (Arrays.mismatch(x, 0, n, y, 0, n) >= 0) {
                    for (int i = 0; i < n; i++) {
                        if (x[i] != y[i]) {
                            lost++;
                        }
                    }
                }
                pos += n;
            }
            return new long[] {lost, lost > 0 || sizeA != sizeB ? 1 : 0};
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos, int n) throws IOException {
        buf.clear().limit(n);
        while (buf.hasRemaining()) {
            if (ch.read(buf, pos + buf.position()) < 0) {
                throw new IOException("file shrank while reading at " + pos);
            }
        }
    }

    /**
     * Gives {@code file} the shadow's bytes and length, in place (a power cut never changes
     * an inode). All-zero chunks stay holes: shadows of pre-sized queue files are sparse,
     * and copying their zeros would cost real disk space.
     */
    private static void restore(Path shadow, Path file) throws IOException {
        try (FileChannel in = FileChannel.open(shadow, StandardOpenOption.READ);
             RandomAccessFile out = new RandomAccessFile(file.toFile(), "rw")) {
            long size = in.size();
            out.setLength(0);
            ByteBuffer buf = ByteBuffer.allocate(CHUNK);
            byte[] zeros = new byte[CHUNK];
            for (long pos = 0; pos < size; ) {
                int n = (int) Math.min(CHUNK, size - pos);
                readFully(in, buf, pos, n);
                if (Arrays.mismatch(buf.array(), 0, n, zeros, 0, n) >= 0) {
                    out.seek(pos);
                    out.write(buf.array(), 0, n);
                }
                pos += n;
            }
            out.setLength(size);
        }
    }

    private interface TmpWriter {
        void write(Path tmp) throws IOException;
    }

    private static void atomicWrite(Path target, TmpWriter writer) throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + ".java.tmp");
        writer.write(tmp);
        moveAtomically(tmp, target);
    }

    private static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
