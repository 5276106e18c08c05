package dev.revenant.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/** Where benchmark logs live and a few helpers shared by the benchmarks. */
public final class BenchSupport {
    /** System property naming the directory that holds the benchmark logs; must be on a real disk. */
    public static final String DIR_PROPERTY = "revenant.bench.dir";
    /** System property: milliseconds to let the disk settle before a durability trial (default 3000). */
    public static final String SETTLE_PROPERTY = "revenant.bench.settleMillis";
    /** Payload of every benchmark record. */
    public static final int PAYLOAD_BYTES = 64;

    /**
     * JVM flags Chronicle Queue needs on JDK 17 (the parent pom's {@code chronicle.jvm.flags});
     * annotations need them spelled out, so each benchmark's {@code @Fork} repeats this list.
     */
    static final String A1 = "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED";
    static final String A2 = "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED";
    static final String A3 = "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED";
    static final String A4 = "--add-opens=java.base/java.nio=ALL-UNNAMED";
    static final String A5 = "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED";
    static final String A6 = "--add-opens=java.base/java.lang=ALL-UNNAMED";
    static final String A7 = "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED";
    static final String A8 = "--add-opens=java.base/java.io=ALL-UNNAMED";
    static final String A9 = "--add-opens=java.base/java.util=ALL-UNNAMED";
    static final String A10 = "-Dchronicle.analytics.disable=true";

    private BenchSupport() {}

    /**
     * The root directory for benchmark logs: {@code -Drevenant.bench.dir}, else
     * {@code benchmarks/target/bench-logs} when run from the repository root, else
     * {@code target/bench-logs} (run from {@code benchmarks/}).
     */
    public static Path root() {
        String p = System.getProperty(DIR_PROPERTY);
        Path root;
        if (p != null && !p.isBlank()) {
            root = Paths.get(p);
        } else if (Files.isDirectory(Paths.get("benchmarks", "target"))) {
            root = Paths.get("benchmarks", "target", "bench-logs");
        } else {
            root = Paths.get("target", "bench-logs");
        }
        return root.toAbsolutePath().normalize();
    }

    /** A new, empty directory under {@link #root()} for one trial. */
    public static Path freshDir(String name) {
        try {
            Path root = Files.createDirectories(root());
            return Files.createTempDirectory(root, name + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Deletes a trial's directory (trials write gigabytes; do not leave them behind). */
    public static void delete(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(f -> {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException e) {
                    System.err.println("bench: could not delete " + f + ": " + e);
                }
            });
        } catch (IOException e) {
            System.err.println("bench: could not delete " + dir + ": " + e);
        }
    }

    /** A payload of {@link #PAYLOAD_BYTES} random bytes (random so nothing compresses or is special-cased). */
    public static byte[] payload(long seed) {
        byte[] b = new byte[PAYLOAD_BYTES];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) r.nextInt(256);
        }
        return b;
    }

    /**
     * Flushes what earlier trials left dirty ({@code sync}) and waits a little, so that a trial
     * measuring fdatasync does not pay for the previous trial's writeback. Outside the measurement.
     */
    public static void settleDisk() {
        long millis = Long.getLong(SETTLE_PROPERTY, 3000L);
        if (millis <= 0) {
            return;
        }
        try {
            new ProcessBuilder("sync").inheritIO().start().waitFor();
        } catch (IOException e) {
            // no sync(1): just wait
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** File system type of the mount holding {@code dir}, from /proc/mounts (Linux only). */
    public static String fileSystemOf(Path dir) {
        try {
            Path real = dir.toRealPath();
            String best = "";
            String type = "unknown";
            for (String line : Files.readAllLines(Paths.get("/proc/mounts"))) {
                String[] f = line.split(" ");
                if (f.length < 3) {
                    continue;
                }
                String mnt = f[1].replace("\\040", " ");
                if (real.startsWith(mnt) && mnt.length() > best.length()) {
                    best = mnt;
                    type = f[2] + " (" + f[0] + " on " + mnt + ")";
                }
            }
            return type;
        } catch (IOException | RuntimeException e) {
            return "unknown (" + e + ")";
        }
    }
}
