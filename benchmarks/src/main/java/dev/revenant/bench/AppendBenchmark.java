package dev.revenant.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of appending one record with a 64-byte payload (104 bytes on disk with the 40-byte frame),
 * producers calling back to back, no waiting for the disk.
 *
 * <ul>
 *   <li>{@code latency1}/{@code latency4}: time of one {@code append} call, sampled
 *       ({@link Mode#SampleTime}: mean, p50, p99, ...), 1 and 4 producer threads.</li>
 *   <li>{@code throughput1}/{@code throughput4}: appends per second summed over the producers
 *       ({@link Mode#Throughput}) = records/s. The ring is bounded, so once it is full the producers
 *       run at the writer thread's pace: with iterations of 2 s and more, after a warm-up, this is
 *       the sustained rate (the ring's 65,536 slots are &lt; 2% of one iteration's records).</li>
 * </ul>
 *
 * {@code impl}: {@code ring} = {@link LogWriter} as shipped (forces every 200 ms even if nobody
 * waits); {@code perThread} = {@link PerThreadAppenderLog}; {@code ringNoForce} = LogWriter with
 * forcing switched off (diagnostic: same I/O as {@code perThread}, which never forces).
 *
 * <p>Back-to-back calls mean the latency figures are those of a saturated log: when the ring is
 * full an append waits for the writer, which shows up in the upper percentiles.
 */
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {BenchSupport.A1, BenchSupport.A2, BenchSupport.A3, BenchSupport.A4,
        BenchSupport.A5, BenchSupport.A6, BenchSupport.A7, BenchSupport.A8, BenchSupport.A9, BenchSupport.A10})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
public class AppendBenchmark {
    @Param({"ring", "perThread", "ringNoForce"})
    public String impl;

    private Path dir;
    private AppendLog log;
    private static final AtomicLong THREAD_IDS = new AtomicLong();

    // Per-iteration diagnostics: how many records the writer really handed to Chronicle.
    private long iterStart;
    private long writtenAtStart;
    private long forcesAtStart;
    private long forceNanosAtStart;

    /** One producer: its virtual thread id, its sequence and its payload. */
    @State(Scope.Thread)
    public static class Producer {
        final long thread = THREAD_IDS.incrementAndGet();
        long seq;
        final byte[] payload = BenchSupport.payload(thread);
    }

    @Setup(Level.Trial)
    public void open() throws IOException {
        dir = BenchSupport.freshDir("append-" + impl);
        System.out.println();
        System.out.println("bench: log dir " + dir + " on " + BenchSupport.fileSystemOf(dir));
        switch (impl) {
            case "ring" -> log = new RingLog(dir, true);
            case "ringNoForce" -> log = new RingLog(dir, false);
            case "perThread" -> log = new PerThreadAppenderLog(dir, 0);
            default -> throw new IllegalArgumentException("impl " + impl);
        }
        BenchSupport.settleDisk();
    }

    @Setup(Level.Iteration)
    public void iterationStart() {
        iterStart = System.nanoTime();
        writtenAtStart = log.writtenPosition();
        forcesAtStart = log instanceof RingLog r ? r.writer().forceCount() : 0;
        forceNanosAtStart = log instanceof RingLog r ? r.writer().forceNanosTotal() : 0;
    }

    @TearDown(Level.Iteration)
    public void iterationEnd() {
        double secs = (System.nanoTime() - iterStart) / 1e9;
        long written = log.writtenPosition() - writtenAtStart;
        String forces = "";
        if (log instanceof RingLog r) {
            long n = r.writer().forceCount() - forcesAtStart;
            long nanos = r.writer().forceNanosTotal() - forceNanosAtStart;
            forces = String.format(", forces %d, writer blocked in force %.0f%% of the time, mean force %.1f ms",
                    n, nanos / 1e7 / secs, n == 0 ? 0.0 : nanos / 1e6 / n);
        }
        System.out.printf(" [written to Chronicle: %,.0f rec/s%s]", written / secs, forces);
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        try {
            if (log != null) {
                log.close();
            }
        } finally {
            BenchSupport.delete(dir);
        }
    }

    private long append(Producer p) {
        return log.append(RecordTypes.NOTE, p.thread, p.seq++, p.payload);
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @Threads(1)
    public long latency1(Producer p) {
        return append(p);
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    @Threads(4)
    public long latency4(Producer p) {
        return append(p);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @Threads(1)
    public long throughput1(Producer p) {
        return append(p);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @Threads(4)
    public long throughput4(Producer p) {
        return append(p);
    }
}
