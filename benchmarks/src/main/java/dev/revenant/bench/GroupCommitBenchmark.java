package dev.revenant.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import dev.revenant.log.LogOptions;
import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordDescriptor;
import dev.revenant.log.RecordTypes;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Durable records per second: each operation appends one record (64-byte payload) and waits until
 * it is on disk.
 *
 * <ul>
 *   <li>{@code groupCommit01/04/16}: {@link LogWriter#append} + {@link LogWriter#awaitStable} with
 *       1, 4 and 16 threads. One fdatasync releases every waiter whose record was written before it
 *       (group commit), so more waiters share each force.</li>
 *   <li>{@code forcePerRecord01}: the baseline without group commit: one thread writes the same
 *       104-byte encoded record with {@link FileChannel#write(ByteBuffer, long)} and calls
 *       {@link FileChannel#force force(false)} (fdatasync) after every record.</li>
 *   <li>{@code forcePerRecord16Sync}: 16 threads sharing that channel, write + force in one
 *       {@code synchronized} block: what 16 waiting threads get when nobody batches.</li>
 * </ul>
 *
 * The baseline file is preallocated (16 MiB written with zeros and forced first, then overwritten
 * in place, wrapping around), so its fdatasync never has to commit a size change or a block
 * allocation: it is the cheapest possible force per record, which makes the ratio against group
 * commit conservative. Chronicle's segment files, by contrast, are sparse and grow as they are
 * written through a shared mapping.
 *
 * <p>Each trial starts with {@code sync} and a pause ({@code -Drevenant.bench.settleMillis},
 * default 3000) so that it does not pay for the previous trial's writeback. Per-iteration lines in
 * the JMH log show forces/s, records per force and the writer's mean force time.
 */
@Fork(value = 1, jvmArgsAppend = {BenchSupport.A1, BenchSupport.A2, BenchSupport.A3, BenchSupport.A4,
        BenchSupport.A5, BenchSupport.A6, BenchSupport.A7, BenchSupport.A8, BenchSupport.A9, BenchSupport.A10})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class GroupCommitBenchmark {
    private static final AtomicLong THREAD_IDS = new AtomicLong();

    /** One producer: its virtual thread id, its sequence, its payload and an encoding buffer. */
    @State(Scope.Thread)
    public static class Producer {
        final long thread = THREAD_IDS.incrementAndGet();
        long seq;
        final byte[] payload = BenchSupport.payload(thread);
        final byte[] record = new byte[RecordDescriptor.recordSize(BenchSupport.PAYLOAD_BYTES)];
        final ByteBuffer recordBuffer = ByteBuffer.wrap(record);
    }

    /** The project's writer, opened for one trial. */
    @State(Scope.Benchmark)
    public static class Ring {
        Path dir;
        LogWriter writer;
        private long iterStart;
        private long forcesAtStart;
        private long stableAtStart;
        private long forceNanosAtStart;

        @Setup(Level.Trial)
        public void open() throws IOException {
            dir = BenchSupport.freshDir("group-commit");
            System.out.println();
            System.out.println("bench: log dir " + dir + " on " + BenchSupport.fileSystemOf(dir));
            writer = LogWriter.open(dir, new LogOptions());
            BenchSupport.settleDisk();
        }

        @Setup(Level.Iteration)
        public void iterationStart() {
            iterStart = System.nanoTime();
            forcesAtStart = writer.forceCount();
            stableAtStart = writer.stablePosition();
            forceNanosAtStart = writer.forceNanosTotal();
        }

        @TearDown(Level.Iteration)
        public void iterationEnd() {
            double secs = (System.nanoTime() - iterStart) / 1e9;
            long forces = writer.forceCount() - forcesAtStart;
            long records = writer.stablePosition() - stableAtStart;
            long forceNanos = writer.forceNanosTotal() - forceNanosAtStart;
            System.out.printf(" [forces/s %,.0f, records per force %.1f, mean force %.0f us]", forces / secs,
                    forces == 0 ? 0.0 : (double) records / forces, forces == 0 ? 0.0 : forceNanos / 1e3 / forces);
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            try {
                if (writer != null) {
                    long forces = writer.forceCount();
                    System.out.printf("%nbench: %d forces, mean force %.1f us%n", forces,
                            forces == 0 ? 0.0 : writer.forceNanosTotal() / 1e3 / forces);
                    writer.close();
                }
            } finally {
                BenchSupport.delete(dir);
            }
        }
    }

    /** The baseline: a plain preallocated file, one fdatasync per record. */
    @State(Scope.Benchmark)
    public static class RawFile {
        static final long SIZE = 16L << 20;
        Path dir;
        FileChannel channel;
        long next;
        private long iterStart;
        private long nextAtStart;

        @Setup(Level.Trial)
        public void open() throws IOException {
            dir = BenchSupport.freshDir("force-per-record");
            System.out.println();
            System.out.println("bench: file dir " + dir + " on " + BenchSupport.fileSystemOf(dir));
            channel = FileChannel.open(dir.resolve("records.bin"), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.READ, StandardOpenOption.WRITE);
            ByteBuffer zeros = ByteBuffer.allocateDirect(1 << 20);
            for (long at = 0; at < SIZE; at += zeros.capacity()) {
                zeros.clear();
                while (zeros.hasRemaining()) {
                    channel.write(zeros, at + zeros.position());
                }
            }
            channel.force(true);
            FileChannel d = FileChannel.open(dir, StandardOpenOption.READ);
            d.force(true);
            d.close();
            BenchSupport.settleDisk();
        }

        @Setup(Level.Iteration)
        public void iterationStart() {
            iterStart = System.nanoTime();
            nextAtStart = next;
        }

        @TearDown(Level.Iteration)
        public void iterationEnd() {
            double secs = (System.nanoTime() - iterStart) / 1e9;
            System.out.printf(" [forces/s %,.0f]", (next - nextAtStart) / secs);
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            try {
                if (channel != null) {
                    channel.close();
                }
            } finally {
                BenchSupport.delete(dir);
            }
        }

        /** Encodes and writes the next record, then forces it; callers serialise. */
        void writeAndForce(Producer p) throws IOException {
            long position = next++;
            int size = RecordDescriptor.encode(p.record, 0, RecordTypes.NOTE, 0, 0, position, p.thread, p.seq++,
                    p.payload, 0, p.payload.length);
            long at = (position * size) % (SIZE - size);
            ByteBuffer b = p.recordBuffer;
            b.clear();
            while (b.hasRemaining()) {
                channel.write(b, at + b.position());
            }
            channel.force(false);
        }
    }

    private static long appendAndWait(Ring r, Producer p) throws IOException {
        long pos = r.writer.append(RecordTypes.NOTE, p.thread, p.seq++, p.payload);
        if (pos < 0) {
            throw new IOException("append refused", r.writer.failure());
        }
        r.writer.awaitStable(pos);
        return pos;
    }

    @Benchmark
    @Threads(1)
    public long groupCommit01(Ring r, Producer p) throws IOException {
        return appendAndWait(r, p);
    }

    @Benchmark
    @Threads(4)
    public long groupCommit04(Ring r, Producer p) throws IOException {
        return appendAndWait(r, p);
    }

    @Benchmark
    @Threads(16)
    public long groupCommit16(Ring r, Producer p) throws IOException {
        return appendAndWait(r, p);
    }

    @Benchmark
    @Threads(1)
    public void forcePerRecord01(RawFile f, Producer p) throws IOException {
        f.writeAndForce(p);
    }

    @Benchmark
    @Threads(16)
    public void forcePerRecord16Sync(RawFile f, Producer p) throws IOException {
        synchronized (f) {
            f.writeAndForce(p);
        }
    }
}
