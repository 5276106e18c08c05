package dev.revenant.log;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TruncationTest {
    @TempDir
    Path tmp;

    @Test
    void dropsWholeSegmentsBelowAPositionAndTheLogStaysSound() throws Exception {
        Path dir = tmp.resolve("log");
        try (LogWriter w = LogWriter.open(dir, new LogOptions().segmentBytes(32 << 10).blockSize(64 << 10))) {
            for (int i = 0; i < 5000; i++) {
                long p = w.append(RecordTypes.NOTE, 1, i, new byte[40]);
                if (i % 100 == 0) {
                    w.awaitStable(p); // small batches, so the writer rolls often
                }
            }
        }
        int before = Segments.list(dir).size();
        assertThat(before).isGreaterThan(3);
        int dropped = Truncation.dropBelow(dir, 3000);
        assertThat(dropped).isPositive();
        assertThat(Segments.list(dir)).hasSize(before - dropped);
        long first = Truncation.firstPosition(dir);
        assertThat(first).isPositive().isLessThanOrEqualTo(3000);

        LogVerifier.Report r = LogVerifier.verify(dir);
        assertThat(r.sound()).as(r.issues().toString()).isTrue();
        assertThat(r.firstPosition()).isEqualTo(first);
        assertThat(r.lastPosition()).isEqualTo(5000);

        // The record at 3000 is still there; nothing at or above the position was dropped.
        try (LogReader reader = LogReader.open(dir, LogReader.Mode.STRICT)) {
            reader.skipTo(3000);
            assertThat(reader.next().position()).isEqualTo(3000);
        }
        // A new session continues after the end, not after the truncation point.
        try (LogWriter w = LogWriter.open(dir)) {
            assertThat(w.sessionStart()).isEqualTo(5001);
        }
    }

    @Test
    void neverDropsTheLastSegment() throws Exception {
        Path dir = tmp.resolve("log");
        try (LogWriter w = LogWriter.open(dir)) {
            w.append(RecordTypes.NOTE, 1, 0, new byte[1]);
        }
        assertThat(Truncation.dropBelow(dir, Long.MAX_VALUE)).isZero();
        assertThat(LogVerifier.verify(dir).records()).isEqualTo(2);
    }
}
