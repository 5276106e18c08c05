package dev.revenant.it.support;

import static dev.revenant.it.support.PowerCutProbe.PAGE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Proves the power-cut simulator: a real child JVM writes under the preload library, is
 * SIGKILLed, and {@link PowerCut#apply} must leave exactly the forced state behind.
 *
 * <p>The child's java binary defaults to the one running the tests; set
 * {@code -Drevenant.it.probeJava=/path/to/bin/java} to try another JDK.
 */
class PowerCutTest {

    private static final long TIMEOUT_SECONDS = 60;

    @TempDir
    Path tmp;

    @Test
    void powerCutKeepsExactlyWhatWasForced() throws Exception {
        Path watch = Files.createDirectories(tmp.resolve("watch"));
        Path shadow = tmp.resolve("shadow");

        Child probe = Child.start(probeCommand(watch), PowerCut.env(watch, shadow), true);
        probe.awaitLine("READY"::equals);
        probe.kill();

        // kill -9 alone loses nothing: the page cache still has every unforced byte.
        assertThat(Files.size(watch.resolve("channel.dat"))).isEqualTo(1500);
        assertThat(Files.exists(watch.resolve("no-dirent.dat"))).isTrue();
        assertThat(Files.readAllBytes(watch.resolve("mapped-range.dat"))[0]).isEqualTo((byte) 'x');

        PowerCut.Report report = PowerCut.apply(watch, shadow);
        System.out.println(report);

        // fdatasync / fsync through FileChannel.force: forced prefix kept, later tail gone.
        assertThat(Files.readAllBytes(watch.resolve("channel.dat"))).isEqualTo(bytes('A', 1000));
        assertThat(Files.readAllBytes(watch.resolve("channel-meta.dat"))).isEqualTo(bytes('C', 700));
        // MappedByteBuffer.force() => msync(MS_SYNC) over the mapping; later page lost.
        assertThat(Files.readAllBytes(watch.resolve("mapped-all.dat")))
                .isEqualTo(concat(bytes('a', PAGE), new byte[2 * PAGE]));
        // force(index, length) syncs that page only, and only its content at that moment.
        assertThat(Files.readAllBytes(watch.resolve("mapped-range.dat")))
                .isEqualTo(concat(new byte[2 * PAGE], bytes('z', PAGE)));
        // fdatasync on the file also covers pages dirtied through its mapping.
        assertThat(Files.readAllBytes(watch.resolve("mapped-fsync.dat")))
                .isEqualTo(concat(bytes('m', PAGE), new byte[PAGE]));
        // Durable name, never durable data.
        assertThat(watch.resolve("never-forced.dat")).exists().isEmptyFile();
        // Durable data (the shadow proves the fsync was seen), never durable name.
        assertThat(watch.resolve("no-dirent.dat")).doesNotExist();
        assertThat(Files.readAllBytes(shadow.resolve("no-dirent.dat"))).isEqualTo(bytes('F', 100));

        assertThat(report.deleted()).containsExactly("no-dirent.dat");
        assertThat(report.truncated()).containsExactly("never-forced.dat");
        assertThat(report.reverted()).containsExactly(
                "channel-meta.dat", "channel.dat", "mapped-all.dat", "mapped-fsync.dat", "mapped-range.dat");
        assertThat(report.resurrected()).isEmpty();
        assertThat(report.unchanged()).isEmpty();
        long expectedLost = 100 /* no-dirent */ + 100 /* never-forced */ + 500 + 300 /* channel tails */
                + PAGE /* mapped-all page 1 */ + PAGE + 16 /* mapped-range page 0 + rewrite */
                + PAGE /* mapped-fsync page 1 */;
        assertThat(report.bytesLost()).isEqualTo(expectedLost);

        // The trace shows the msync hook saw the exact page ranges.
        assertThat(probe.output()).contains(
                "powercut-trace: msync(mapped-all.dat @0+" + 3 * PAGE + ") = 0",
                "powercut-trace: msync(mapped-range.dat @" + 2 * PAGE + "+" + PAGE + ") = 0");

        // A second cut with no process in between changes nothing.
        assertThat(PowerCut.apply(watch, shadow).nothingLost()).isTrue();
    }

    @Test
    void jvmThatNeverTouchesTheWatchedDirectoryRunsNormally() throws Exception {
        Path watch = tmp.resolve("watch-never-created");
        Path shadow = tmp.resolve("shadow");
        List<String> javaVersion = List.of(javaBinary(), "-version");

        Child configured = Child.start(javaVersion, PowerCut.env(watch, shadow), false);
        assertThat(configured.awaitExit()).as(configured.output()).isZero();
        assertThat(configured.output()).contains("version").doesNotContain("powercut:").doesNotContain("ERROR");

        // Preloaded without any configuration it must only forward calls.
        Child bare = Child.start(javaVersion, Map.of("LD_PRELOAD", PowerCut.library().toString()), false);
        assertThat(bare.awaitExit()).as(bare.output()).isZero();
        assertThat(bare.output()).contains("version").doesNotContain("powercut:");

        assertThat(shadow).doesNotExist(); // nothing was synced in the watched directory
    }

    /**
     * Runtime lookups (jnr-ffi/jffi resolve msync with dlsym on a libc handle) must get the
     * library's wrappers, and dlsym(RTLD_NEXT) must still resolve relative to its caller.
     */
    @Test
    void dlsymLookupsReachTheHooks() throws Exception {
        Path watch = Files.createDirectories(tmp.resolve("watch"));
        Path shadow = tmp.resolve("shadow");
        Path exe = compileNative("dlsym-probe", DLSYM_PROBE_C);

        Child child = Child.start(List.of(exe.toString(), watch.toString()), PowerCut.env(watch, shadow), true);
        assertThat(child.awaitExit()).as(child.output()).isZero();
        String out = child.output();
        String lib = PowerCut.library().getFileName().toString();
        assertThat(line(out, "handle-msync ")).endsWith(lib);
        assertThat(line(out, "handle-fsync ")).endsWith(lib);
        assertThat(line(out, "next-msync ")).endsWith(lib); // next after the executable is the preload
        assertThat(line(out, "handle-getpid ")).doesNotContain(lib);
        assertThat(out).contains("powercut-trace: dlsym(msync) -> powercut wrapper");

        PowerCut.Report report = PowerCut.apply(watch, shadow);
        System.out.println(report);
        assertThat(Files.readAllBytes(watch.resolve("by-sync.dat"))).isEqualTo("S1".getBytes(StandardCharsets.US_ASCII));
        byte[] mapped = Files.readAllBytes(watch.resolve("by-dlsym.dat"));
        byte[] expected = new byte[2 * PAGE];
        System.arraycopy("via-dlsym".getBytes(StandardCharsets.US_ASCII), 0, expected, 0, 9);
        assertThat(mapped).isEqualTo(expected);
    }

    /** The cut rules, on hand-made state and without any process. */
    @Test
    void applyFollowsTheDirentsAndShadows() throws IOException {
        Path watch = Files.createDirectories(tmp.resolve("watch"));
        Path shadow = Files.createDirectories(tmp.resolve("shadow"));
        Files.write(watch.resolve("kept"), "durable+tail".getBytes(StandardCharsets.US_ASCII));
        Files.write(shadow.resolve("kept"), "durable".getBytes(StandardCharsets.US_ASCII));
        Files.write(watch.resolve("same"), "all synced".getBytes(StandardCharsets.US_ASCII));
        Files.write(shadow.resolve("same"), "all synced".getBytes(StandardCharsets.US_ASCII));
        Files.write(watch.resolve("empty-data"), "12345".getBytes(StandardCharsets.US_ASCII));
        Files.write(watch.resolve("new"), "123".getBytes(StandardCharsets.US_ASCII));
        Files.write(shadow.resolve("unlinked"), "back".getBytes(StandardCharsets.US_ASCII));
        Files.createDirectories(watch.resolve("subdir"));
        Files.write(shadow.resolve(PowerCut.DIRENTS), List.of("kept", "same", "empty-data", "unlinked", "subdir"));

        PowerCut.Report report = PowerCut.apply(watch, shadow);

        assertThat(Files.readString(watch.resolve("kept"))).isEqualTo("durable");
        assertThat(Files.readString(watch.resolve("same"))).isEqualTo("all synced");
        assertThat(watch.resolve("empty-data")).isEmptyFile();
        assertThat(watch.resolve("new")).doesNotExist();
        assertThat(Files.readString(watch.resolve("unlinked"))).isEqualTo("back");
        assertThat(watch.resolve("subdir")).isDirectory();
        assertThat(report.reverted()).containsExactly("kept");
        assertThat(report.unchanged()).containsExactly("same");
        assertThat(report.truncated()).containsExactly("empty-data");
        assertThat(report.deleted()).containsExactly("new");
        assertThat(report.resurrected()).containsExactly("unlinked");
        assertThat(report.bytesLost()).isEqualTo(5 + 5 + 3);
        assertThat(report.toString()).contains("bytesLost=13");

        // Without any .dirents nothing's name was ever durable.
        Files.delete(shadow.resolve(PowerCut.DIRENTS));
        assertThat(PowerCut.apply(watch, shadow).deleted()).containsExactly("empty-data", "kept", "same", "unlinked");
        assertThat(watch.resolve("subdir")).isDirectory();

        // markAllDurable makes the present state the durable one.
        Files.write(watch.resolve("seeded"), "x".getBytes(StandardCharsets.US_ASCII));
        PowerCut.markAllDurable(watch, shadow);
        assertThat(PowerCut.apply(watch, shadow).nothingLost()).isTrue();
        assertThat(Files.readString(watch.resolve("seeded"))).isEqualTo("x");
    }

    // ---------------------------------------------------------------- helpers

    private static List<String> probeCommand(Path watch) throws URISyntaxException {
        String classes = Paths.get(PowerCutProbe.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .toString();
        return List.of(javaBinary(), "-Xmx64m", "-cp", classes, PowerCutProbe.class.getName(), watch.toString());
    }

    private static String javaBinary() {
        String override = System.getProperty("revenant.it.probeJava");
        if (override != null && !override.isBlank()) {
            return override;
        }
        return ProcessHandle.current().info().command()
                .orElse(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    }

    private Path compileNative(String name, String source) throws IOException, InterruptedException {
        Path src = Files.writeString(tmp.resolve(name + ".c"), source);
        Path exe = tmp.resolve(name);
        Process gcc = new ProcessBuilder("gcc", "-O2", "-Wall", "-o", exe.toString(), src.toString(), "-ldl")
                .redirectErrorStream(true).start();
        String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(gcc.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();
        assertThat(gcc.exitValue()).as(out).isZero();
        return exe;
    }

    private static String line(String output, String prefix) {
        return output.lines().filter(l -> l.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no line starting with '" + prefix + "' in:\n" + output));
    }

    private static byte[] bytes(char c, int n) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) c);
        return b;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** A child process whose merged stdout/stderr is collected line by line. */
    private static final class Child {
        private final Process process;
        private final List<String> lines = new ArrayList<>();
        private final CountDownLatch ended = new CountDownLatch(1);
        private volatile Predicate<String> waitingFor;
        private volatile CountDownLatch seen;

        private Child(Process process) {
            this.process = process;
            Thread reader = new Thread(this::pump, "child-output-" + process.pid());
            reader.setDaemon(true);
            reader.start();
        }

        static Child start(List<String> command, Map<String, String> env, boolean trace) throws IOException {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            pb.environment().putAll(env);
            if (trace) {
                pb.environment().put(PowerCut.TRACE_ENV, "1");
            }
            return new Child(pb.start());
        }

        private void pump() {
            try (BufferedReader in = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = in.readLine()) != null; ) {
                    synchronized (lines) {
                        lines.add(l);
                    }
                    Predicate<String> p = waitingFor;
                    if (p != null && p.test(l)) {
                        seen.countDown();
                    }
                }
            } catch (IOException ignored) {
                // the process was killed; what was read so far is kept
            } finally {
                ended.countDown();
            }
        }

        /** Waits until a line matches, failing early if the child's output ends first. */
        void awaitLine(Predicate<String> condition) throws InterruptedException {
            seen = new CountDownLatch(1);
            waitingFor = condition;
            synchronized (lines) {
                if (lines.stream().anyMatch(condition)) {
                    return;
                }
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
            while (!seen.await(100, TimeUnit.MILLISECONDS)) {
                if (ended.getCount() == 0 && seen.getCount() != 0) {
                    fail("child ended without the expected line:\n" + output());
                }
                if (System.nanoTime() > deadline) {
                    process.destroyForcibly();
                    fail("timed out waiting for the child:\n" + output());
                }
            }
        }

        /** SIGKILL, then wait for the process to be gone. */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            assertThat(process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)).isTrue();
            ended.await(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }

        int awaitExit() throws InterruptedException {
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                fail("child did not exit:\n" + output());
            }
            ended.await(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            return process.exitValue();
        }

        String output() {
            synchronized (lines) {
                return String.join("\n", lines);
            }
        }
    }

    /**
     * Native writer for {@link #dlsymLookupsReachTheHooks}: resolves msync/fsync the way
     * jffi does (dlsym on a libc handle), reports where lookups landed, and exits.
     */
    private static final String DLSYM_PROBE_C = """
            #define _GNU_SOURCE
            #include <dlfcn.h>
            #include <fcntl.h>
            #include <stdio.h>
            #include <string.h>
            #include <sys/mman.h>
            #include <unistd.h>

            static void where(const char *label, void *fn) {
                Dl_info info;
                printf("%s %s\\n", label, fn && dladdr(fn, &info) && info.dli_fname ? info.dli_fname : "?");
            }

            int main(int argc, char **argv) {
                if (argc != 2) return 64;
                char path[4096];
                void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
                if (!libc) return 65;
                int (*ms)(void *, size_t, int) = (int (*)(void *, size_t, int)) dlsym(libc, "msync");
                int (*fs)(int) = (int (*)(int)) dlsym(libc, "fsync");
                where("handle-msync", (void *) ms);
                where("handle-fsync", (void *) fs);
                where("next-msync", dlsym(RTLD_NEXT, "msync"));
                where("handle-getpid", dlsym(libc, "getpid"));
                fflush(stdout);

                /* sync(): every file and the directory listing become durable. */
                snprintf(path, sizeof path, "%s/by-sync.dat", argv[1]);
                int s = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
                if (s < 0 || write(s, "S1", 2) != 2) return 66;
                sync();
                if (write(s, "S2", 2) != 2) return 67;

                /* msync through the looked-up pointer: page 0 only. */
                snprintf(path, sizeof path, "%s/by-dlsym.dat", argv[1]);
                int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
                if (fd < 0 || ftruncate(fd, 8192) != 0) return 68;
                char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (p == MAP_FAILED) return 69;
                memcpy(p, "via-dlsym", 9);
                if (ms(p, 4096, MS_SYNC) != 0) return 70;
                memcpy(p + 4096, "unsynced", 8);

                /* Directory fsync through the looked-up pointer. */
                int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
                if (dir < 0 || fs(dir) != 0) return 71;
                _exit(0); /* the page cache keeps everything, as after kill -9 */
            }
            """;
}
