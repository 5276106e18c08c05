package dev.revenant.agent.bootstrap;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

import net.openhft.chronicle.queue.ChronicleQueue;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.posix.PosixAPI;
import net.openhft.posix.internal.PosixAPIHolder;

/**
 * Chronicle round trip used to prove that the (relocated) Chronicle Queue works inside the
 * shaded jar: from the agent ({@code -javaagent:revenant-agent.jar=selftest}, loaded reflectively
 * by {@link Premain} only after {@link ModuleOpener} ran) and from the CLI
 * ({@code revenant selftest-chronicle}).
 */
public final class SelfTest {

    private SelfTest() {
    }

    /** Entry point for {@link Premain} (called reflectively): returns a one-line summary. */
    public static String premainCheck() throws IOException {
        long t0 = System.nanoTime();
        int n = roundTrip(100);
        return n + " records in " + millis(System.nanoTime() - t0) + " ms; " + nativeCheck();
    }

    /**
     * Calls into Chronicle's POSIX layer (jnr-ffi over jffi, whose native library is a resource of
     * the agent jar) and checks the answer: {@code getpid()} must be this process. Returns a
     * summary naming the layer and the loader of jffi.
     *
     * @throws IllegalStateException if the layer is not the native one or answers wrongly
     */
    public static String nativeCheck() {
        long t0 = System.nanoTime();
        PosixAPI posix = PosixAPI.posix();
        int pid = posix.getpid();
        long expected = ProcessHandle.current().pid();
        String layer = PosixAPIHolder.POSIX_API.getClass().getSimpleName();
        if (pid != expected) {
            throw new IllegalStateException("posix self-test: getpid() gave " + pid + ", this process is " + expected
                + " (" + posix + ")");
        }
        ClassLoader jffiLoader;
        try {
            jffiLoader = Class.forName("com.kenai.jffi.Foreign", false, SelfTest.class.getClassLoader()).getClassLoader();
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("posix self-test: jffi is missing", e);
        }
        return "posix " + layer + " getpid()=" + pid + " in " + millis(System.nanoTime() - t0) + " ms, jffi loaded by "
            + jffiLoader;
    }

    /**
     * Writes {@code count} small raw records to a fresh queue in a temp dir, reads them back with a
     * tailer, checks them, deletes the dir and returns the number read.
     *
     * @throws IllegalStateException if a record is missing or wrong
     */
    public static int roundTrip(int count) throws IOException {
        Path dir = Files.createTempDirectory("revenant-selftest-");
        try {
            try (ChronicleQueue queue = SingleChronicleQueueBuilder.binary(dir).build()) {
                ExcerptAppender appender = queue.createAppender();
                for (int i = 0; i < count; i++) {
                    final int n = i;
                    appender.writeBytes(b -> b.writeInt(n).writeLong(n * 31L + 7).writeByte((byte) 'R'));
                }
                ExcerptTailer tailer = queue.createTailer();
                int[] read = {0};
                boolean[] bad = {false};
                while (tailer.readBytes(in -> {
                    int n = in.readInt();
                    long v = in.readLong();
                    byte tag = in.readByte();
                    if (n != read[0] || v != n * 31L + 7 || tag != 'R') {
                        bad[0] = true;
                    }
                    read[0]++;
                })) {
                    if (bad[0]) {
                        throw new IllegalStateException("chronicle self-test: record " + (read[0] - 1) + " read back wrong");
                    }
                }
                if (read[0] != count) {
                    throw new IllegalStateException("chronicle self-test: wrote " + count + " records, read " + read[0]);
                }
                return read[0];
            }
        } finally {
            deleteRecursively(dir);
        }
    }

    static String millis(long nanos) {
        return String.format(java.util.Locale.ROOT, "%.1f", nanos / 1e6);
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                Files.deleteIfExists(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
