package dev.revenant.log;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogWriterTest {
    @TempDir
    Path tmp;

    private static byte[] payload(long thread, long seq) {
        return ByteBuffer.allocate(24).putLong(thread).putLong(seq).putLong(thread * 31 + seq).array();
    }

    @Test
    void recordsFromManyThreadsComeBackDenseInPerThreadOrder() throws Exception {
        Path dir = tmp.resolve("log");
        int threads = 4;
        int perThread = 20_000;
        try (LogWriter w = LogWriter.open(dir, new LogOptions().segmentBytes(1 << 20).blockSize(1 << 20))) {
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                long tid = t + 1;
                Thread th = new Thread(() -> {
                    for (int i = 0; i < perThread; i++) {
                        long p = w.append(RecordTypes.NOTE, tid, i, payload(tid, i));
                        assertThat(p).isPositive();
                        if (i % 1000 == 0) {
                            try {
                                w.awaitStable(p);
                            } catch (Exception e) {
                                throw new AssertionError(e);
                            }
                            assertThat(w.stablePosition()).isGreaterThanOrEqualTo(p);
                        }
                    }
                });
                ts.add(th);
                th.start();
            }
            for (Thread th : ts) {
                th.join();
            }
        }
        assertThat(Segments.list(dir)).hasSizeGreaterThan(1);
        Map<Long, Long> nextSeq = new HashMap<>();
        long expected = 0;
        try (LogReader r = LogReader.open(dir, LogReader.Mode.STRICT)) {
            LogRecord rec;
            while ((rec = r.next()) != null) {
                assertThat(rec.position()).isEqualTo(expected++);
                if (rec.type() == RecordTypes.NOTE) {
                    long want = nextSeq.getOrDefault(rec.thread(), 0L);
                    assertThat(rec.threadSeq()).isEqualTo(want);
                    assertThat(rec.payload()).isEqualTo(payload(rec.thread(), want));
                    nextSeq.put(rec.thread(), want + 1);
                } else {
                    assertThat(rec.type()).isEqualTo(RecordTypes.HEADER);
                }
            }
            assertThat(r.issues()).isEmpty();
            assertThat(r.stableWatermark()).isEqualTo(expected - 1);
        }
        assertThat(expected).isEqualTo(1 + threads * perThread);
        assertThat(nextSeq.values()).containsOnly((long) perThread);
    }

    @Test
    void zerosWrittenAheadOfChronicleNeverReachItsBytes() throws Exception {
        // Zeros go into the reserved blocks just beyond what Chronicle wrote; if they ever
        // reached a document, an index array or a header, records would be missing or damaged
        // here. Records of many sizes, several segments (each first document allocates the index
        // arrays right after itself), forces in between.
        Path dir = tmp.resolve("log");
        java.util.Random rnd = new java.util.Random(5);
        List<byte[]> sent = new ArrayList<>();
        long zeroed;
        try (LogWriter w = LogWriter.open(dir, new LogOptions().segmentBytes(3 << 20))) {
            for (int i = 0; i < 6_000; i++) {
                int len = rnd.nextInt(10) == 0 ? 1 + rnd.nextInt(40_000) : 1 + rnd.nextInt(300);
                byte[] b = new byte[len];
                rnd.nextBytes(b);
                sent.add(b);
                long p = w.append(RecordTypes.NOTE, 1, i, b);
                assertThat(p).isPositive();
                if (rnd.nextInt(4) == 0) {
                    w.awaitStable(p);
                }
            }
            zeroed = w.zeroedBytes();
        }
        assertThat(Segments.list(dir)).hasSizeGreaterThan(2);
        if (SegmentSpace.supported(SegmentSpace.WRITTEN)) {
            assertThat(zeroed).isPositive();
        }
        int next = 0;
        try (LogReader r = LogReader.open(dir, LogReader.Mode.STRICT)) {
            LogRecord rec;
            while ((rec = r.next()) != null) {
                if (rec.type() == RecordTypes.NOTE) {
                    assertThat(rec.threadSeq()).isEqualTo(next);
                    assertThat(rec.payload()).isEqualTo(sent.get(next));
                    next++;
                }
            }
            assertThat(r.issues()).isEmpty();
        }
        assertThat(next).isEqualTo(sent.size());
    }

    @Test
    void fingerprintComputedDuringOpenGoesIntoTheHeaderAndItsFailureFailsTheOpen() throws Exception {
        Path dir = tmp.resolve("log");
        AppFingerprint fp = new AppFingerprint("Main", "abc123", "vm", "agent");
        assertThatThrownBy(() -> LogWriter.open(dir, new LogOptions().fingerprintFrom(() -> {
            throw new java.io.IOException("class path unreadable");
        }))).hasMessageContaining("class path unreadable");
        // the failed open let go of the directory
        try (LogWriter w = LogWriter.open(dir, new LogOptions().fingerprintFrom(() -> fp))) {
            assertThat(w.header().fingerprint()).isEqualTo(fp);
        }
        try (LogReader r = LogReader.open(dir, LogReader.Mode.STRICT)) {
            LogRecord first = r.next();
            assertThat(first.type()).isEqualTo(RecordTypes.HEADER);
            assertThat(LogHeader.decode(first.payload()).fingerprint()).isEqualTo(fp);
        }
    }

    @Test
    void secondSessionContinuesPositionsAndEpoch() throws Exception {
        Path dir = tmp.resolve("log");
        try (LogWriter w = LogWriter.open(dir)) {
            assertThat(w.epoch()).isZero();
            w.append(RecordTypes.NOTE, 1, 0, new byte[] {1});
        }
        try (LogWriter w = LogWriter.open(dir)) {
            assertThat(w.epoch()).isEqualTo(1);
            assertThat(w.sessionStart()).isEqualTo(2);
            long p = w.append(RecordTypes.NOTE, 1, 1, new byte[] {2});
            assertThat(p).isEqualTo(3);
            w.awaitStable(p);
        }
        List<LogRecord> all = new ArrayList<>();
        try (LogReader r = LogReader.open(dir, LogReader.Mode.STRICT)) {
            for (LogRecord rec; (rec = r.next()) != null; ) {
                all.add(rec);
            }
        }
        assertThat(all).extracting(LogRecord::position).containsExactly(0L, 1L, 2L, 3L);
        assertThat(all).extracting(LogRecord::epoch).containsExactly(0, 0, 1, 1);
        LogHeader h = LogHeader.decode(all.get(2).payload());
        assertThat(h.previousEnd()).isEqualTo(1);
    }

    @Test
    void secondWriterInSameProcessIsRefused() throws Exception {
        Path dir = tmp.resolve("log");
        try (LogWriter w = LogWriter.open(dir)) {
            assertThatThrownBy(() -> LogWriter.open(dir)).isInstanceOf(LogWriterException.class)
                    .hasMessageContaining("already being written");
        }
    }

    @Test
    void listenerFiresAfterStable() throws Exception {
        Path dir = tmp.resolve("log");
        AtomicLong fired = new AtomicLong(-1);
        try (LogWriter w = LogWriter.open(dir)) {
            long p = w.append(RecordTypes.NOTE, 1, 0, new byte[10]);
            java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
            w.onStable(p, pos -> {
                fired.set(pos);
                done.countDown();
            });
            assertThat(done.await(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
            assertThat(w.stablePosition()).isGreaterThanOrEqualTo(p);
        }
        assertThat(fired.get()).isPositive();
    }

    @Test
    void cleanCloseLeavesTheWatermarkBesideTheLog() throws Exception {
        Path dir = tmp.resolve("log");
        long last;
        try (LogWriter w = LogWriter.open(dir)) {
            last = -1;
            for (int i = 0; i < 100; i++) {
                last = w.append(RecordTypes.NOTE, 1, i, new byte[8]);
            }
        }
        assertThat(StableWatermarkFile.read(dir)).isEqualTo(last);
    }

    @Test
    void largePayloadsFitUpToTheLimitAndBeyondAreRefused() throws Exception {
        Path dir = tmp.resolve("log");
        try (LogWriter w = LogWriter.open(dir, new LogOptions().blockSize(1 << 20))) {
            byte[] big = new byte[w.maxPayload()];
            java.util.Arrays.fill(big, (byte) 7);
            long p = w.append(RecordTypes.NOTE, 1, 0, big);
            assertThat(p).isPositive();
            assertThat(w.append(RecordTypes.NOTE, 1, 1, new byte[w.maxPayload() + 1])).isEqualTo(-1);
            assertThat(w.failure()).isNull();
            w.awaitStable(p);
        }
        try (LogReader r = LogReader.open(dir, LogReader.Mode.STRICT)) {
            r.skipTo(1);
            assertThat(r.next().payload()).hasSize(256 * 1024 - 64 - RecordDescriptor.OVERHEAD);
        }
    }

    @Test
    void countersAndForceTimingsFollowWhatWasWrittenAndForced() throws Exception {
        Path dir = tmp.resolve("timed");
        long last;
        try (LogWriter w = LogWriter.open(dir)) {
            for (int i = 0; i < 50; i++) {
                last = w.append(RecordTypes.CLOCK, 1, i, payload(1, i));
                if (i % 10 == 9) {
                    w.awaitStable(last);
                }
            }
            assertThat(w.recordsWrittenByType()[RecordTypes.CLOCK]).isEqualTo(50);
            assertThat(w.recordsWrittenByType()[RecordTypes.HEADER]).isEqualTo(1);
            assertThat(w.bytesWritten()).isGreaterThanOrEqualTo(50L * RecordDescriptor.recordSize(24));
            assertThat(java.util.Arrays.stream(w.forceHistogram()).sum()).isEqualTo(w.forceCount());
            assertThat(w.maxForceNanos()).isGreaterThanOrEqualTo(w.lastForceNanos()).isPositive();
            assertThat(w.lastForceTiming()).isNotNull();
            assertThat(w.stablePosition()).isGreaterThanOrEqualTo(50);
        }
        List<ForceTiming> timings = new ArrayList<>();
        try (LogReader r = LogReader.open(dir, LogReader.Mode.STRICT)) {
            r.onForceTiming(timings::add);
            while (r.next() != null) {
                // read all
            }
            assertThat(r.stableWatermark()).isEqualTo(50); // the 16-byte marks are still found
        }
        assertThat(timings).isNotEmpty().allMatch(t -> t.forceNanos() > 0 && t.wallMillis() > 0
                && t.appendedPosition() >= t.stablePosition());
        assertThat(timings.get(timings.size() - 1).stablePosition()).isEqualTo(50);
        for (int i = 1; i < timings.size(); i++) {
            assertThat(timings.get(i).stablePosition()).isGreaterThanOrEqualTo(timings.get(i - 1).stablePosition());
        }
        assertThat(LogVerifier.verify(dir).sound()).isTrue();
    }

    @Test
    void forceLatencyBucketsAndQuantiles() {
        assertThat(ForceTiming.bucket(50_000)).isZero();          // 50 us
        assertThat(ForceTiming.bucket(100_000)).isZero();         // 100 us: bounds are inclusive
        assertThat(ForceTiming.bucket(1_500_000)).isEqualTo(4);   // 1.5 ms: <= 2 ms
        assertThat(ForceTiming.bucket(5_000_000_000L)).isEqualTo(ForceTiming.BUCKET_BOUNDS_MICROS.length);
        long[] h = new long[ForceTiming.BUCKET_BOUNDS_MICROS.length + 1];
        assertThat(ForceTiming.quantileMicros(h, 0.5)).isEqualTo(-1);
        h[2] = 98;
        h[6] = 2;
        assertThat(ForceTiming.quantileMicros(h, 0.5)).isEqualTo(500);
        assertThat(ForceTiming.quantileMicros(h, 0.99)).isEqualTo(10_000);
        assertThat(ForceTiming.bucketLabel(0)).isEqualTo("<=100us");
        assertThat(ForceTiming.bucketLabel(3)).isEqualTo("<=1ms");
        assertThat(ForceTiming.bucketLabel(h.length - 1)).isEqualTo(">1s");
    }
}
