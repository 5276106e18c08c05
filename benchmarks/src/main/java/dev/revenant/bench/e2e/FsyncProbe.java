package dev.revenant.bench.e2e;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The floor under any durable reply: the latency of one raw {@code write} of 64 bytes followed by
 * {@code FileChannel.force(false)} (fdatasync), on a file preallocated with real zeros so that no
 * force has to commit a size change or a block allocation. The writes go to consecutive 64-byte
 * slots, wrapping round the file. Run it in the log's directory to measure the log's disk; the
 * end-to-end harness compares the pessimistic commit's median reply latency with this.
 *
 * <pre>
 * java dev.revenant.bench.e2e.FsyncProbe --dir D [--iterations 300] [--warmup 20]
 * </pre>
 *
 * Prints one JSON line: dir, iterations, median/p99/mean/min/max in microseconds. The probe file
 * ({@code fsync-probe-<pid>.bin}, 4 MiB) is deleted afterwards. JDK types only.
 */
public final class FsyncProbe {

    private static final int FILE_SIZE = 4 << 20;
    private static final int RECORD = 64;

    public static void main(String[] args) throws IOException {
        Path dir = null;
        int iterations = 300;
        int warmup = 20;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--dir" -> dir = Path.of(args[++i]);
                    case "--iterations" -> iterations = Integer.parseInt(args[++i]);
                    case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            if (dir == null || iterations < 1 || warmup < 0) {
                throw new IllegalArgumentException("--dir is required; iterations >= 1, warmup >= 0");
            }
        } catch (RuntimeException e) {
            System.err.println("FsyncProbe: " + e.getMessage()
                + "\nusage: FsyncProbe --dir D [--iterations 300] [--warmup 20]");
            System.exit(2);
            return;
        }

        Files.createDirectories(dir);
        Path file = dir.resolve("fsync-probe-" + ProcessHandle.current().pid() + ".bin");
        long[] nanos = new long[iterations];
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
            StandardOpenOption.WRITE)) {
            ByteBuffer zeros = ByteBuffer.allocate(1 << 20);
            for (int written = 0; written < FILE_SIZE; written += zeros.capacity()) {
                zeros.clear();
                while (zeros.hasRemaining()) {
                    ch.write(zeros, written + zeros.position());
                }
            }
            ch.force(true);  // the size and the blocks are on disk before the first timed force

            ByteBuffer record = ByteBuffer.allocate(RECORD);
            long slot = 0;
            for (int i = -warmup; i < iterations; i++) {
                record.clear();
                record.putLong(0, i);
                long position = (slot++ * RECORD) % FILE_SIZE;
                long t0 = System.nanoTime();
                while (record.hasRemaining()) {
                    ch.write(record, position + record.position());
                }
                ch.force(false);
                long t1 = System.nanoTime();
                if (i >= 0) {
                    nanos[i] = t1 - t0;
                }
            }
        } finally {
            Files.deleteIfExists(file);
        }

        Arrays.sort(nanos);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("dir", dir.toAbsolutePath().toString());
        r.put("iterations", iterations);
        r.put("median_us", us(nanos[(iterations - 1) / 2]));
        r.put("p99_us", us(nanos[Math.max(0, (int) Math.ceil(0.99 * iterations) - 1)]));
        r.put("mean_us", us((long) Arrays.stream(nanos).average().orElse(0)));
        r.put("min_us", us(nanos[0]));
        r.put("max_us", us(nanos[iterations - 1]));
        System.out.println(KvLoad.toJson(r));
    }

    private static double us(long nanos) {
        return Math.round(nanos / 100.0) / 10.0;
    }
}
