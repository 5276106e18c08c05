package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import dev.revenant.log.LogRecord;
import dev.revenant.log.LogTailer;
import dev.revenant.log.RecordTypes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A second process follows a live log as records arrive, across segment rolls. */
class LogTailerIT {
    @TempDir
    Path tmp;

    @Test
    void followsALiveWriterInOrderAcrossSegments() throws Exception {
        Path log = tmp.resolve("live");
        Files.createDirectories(log);
        try (JavaProcess w = JavaProcess.start(Map.of(), StressWriter.class, log.toString(), "2", "every=50")) {
            w.await(l -> l.startsWith("READY"), 60);
            Map<Long, Long> next = new HashMap<>();
            long expected = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            long segmentsSeen;
            try (LogTailer t = LogTailer.open(log)) {
                // Follow until the writer has rolled at least twice and we are past 20,000 records.
                while (true) {
                    LogRecord r = t.poll();
                    if (r == null) {
                        assertThat(System.nanoTime()).as("tailer made progress in time").isLessThan(deadline);
                        assertThat(w.process.isAlive()).isTrue();
                        Thread.onSpinWait();
                        continue;
                    }
                    assertThat(r.position()).isEqualTo(expected++);
                    if (r.type() == RecordTypes.NOTE) {
                        long want = next.getOrDefault(r.thread(), 0L);
                        assertThat(r.threadSeq()).isEqualTo(want);
                        assertThat(r.payload()).isEqualTo(StressWriter.payload(r.thread(), want));
                        next.put(r.thread(), want + 1);
                    }
                    if (expected > 20_000) {
                        try (var files = Files.list(log)) {
                            segmentsSeen = files.filter(f -> f.toString().endsWith(".cq4")).count();
                        }
                        if (segmentsSeen >= 3) {
                            break;
                        }
                    }
                }
                assertThat(t.stableWatermark()).isPositive();
            }
            assertThat(w.process.isAlive()).as("the writer was live all along").isTrue();
        }
    }
}
