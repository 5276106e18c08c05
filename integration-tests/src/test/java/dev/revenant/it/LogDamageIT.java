package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import dev.revenant.log.LogCorruptException;
import dev.revenant.log.LogReader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.LogOptions;
import dev.revenant.log.LogWriter;
import dev.revenant.log.LogWriterException;
import dev.revenant.log.RecordTypes;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damaged logs, checked through the real CLI and the reader: each damage is found and named with
 * its position, nothing hangs, and a normal torn tail after a crash is not mistaken for damage.
 */
class LogDamageIT {
    @TempDir
    Path tmp;
    Path pristine;

    @BeforeEach
    void writeLog() throws Exception {
        pristine = tmp.resolve("pristine");
        try (LogWriter w = LogWriter.open(pristine, new LogOptions().segmentBytes(64 << 10).blockSize(64 << 10))) {
            for (int i = 0; i < 3000; i++) {
                long p = w.append(RecordTypes.NOTE, 1 + i % 3, i / 3, StressWriter.payload(1 + i % 3, i / 3));
                if (i % 500 == 0) {
                    w.awaitStable(p);
                }
            }
        }
    }

    Path copy(String name) throws IOException {
        Path to = tmp.resolve(name);
        Files.createDirectories(to);
        try (Stream<Path> s = Files.list(pristine)) {
            for (Path p : s.toList()) {
                if (Files.isRegularFile(p)) {
                    Files.copy(p, to.resolve(p.getFileName()));
                }
            }
        }
        return to;
    }

    static List<Path> segments(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".cq4")).sorted(Comparator.naturalOrder()).toList();
        }
    }

    /** Offsets of the data documents of a segment, walking Chronicle's framing. */
    static List<Integer> dataDocs(Path segment) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(segment)).order(ByteOrder.LITTLE_ENDIAN);
        List<Integer> out = new ArrayList<>();
        int off = 0;
        while (off + 4 <= b.limit()) {
            int h = b.getInt(off);
            if (h == 0 || (h & 0x80000000) != 0) {
                break;
            }
            if ((h & 0x40000000) == 0) {
                out.add(off);
            }
            off = (off + 4 + (h & 0x3FFFFFFF) + 3) & ~3;
        }
        return out;
    }

    static void patch(Path file, long offset, byte[] bytes) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            f.write(bytes);
        }
    }

    static byte readByte(Path file, long offset) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            f.seek(offset);
            return f.readByte();
        }
    }

    @Test
    void pristineLogIsSound() throws Exception {
        Cli.Result r = Cli.run("verify", "--log", pristine.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("3001 records").contains("sound");
        Cli.Result j = Cli.run("verify", "--log", pristine.toString(), "--json");
        assertThat(j.out()).contains("\"sound\":true").contains("\"records\":3001").contains("\"lastPosition\":3000");
    }

    @Test
    void flippedByteInTheMiddleIsDamageWithItsPosition() throws Exception {
        Path log = copy("flip");
        Path seg = segments(log).get(0);
        List<Integer> docs = dataDocs(seg);
        int doc = docs.get(docs.size() / 2);
        long at = doc + 4 + 36 + 5; // inside the first record's payload
        patch(seg, at, new byte[] {(byte) (readByte(seg, at) ^ 0x10)});

        Cli.Result r = Cli.run("verify", "--log", log.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.out()).contains("damage at position").contains("fails its check").contains("DAMAGED");
        assertThatThrownBy(() -> readAll(log, LogReader.Mode.STRICT)).isInstanceOf(LogCorruptException.class)
                .hasMessageContaining("position");
    }

    @Test
    void truncatedMidRecordBelowTheStableMarkIsDamage() throws Exception {
        Path log = copy("trunc");
        List<Path> segs = segments(log);
        Path last = segs.get(segs.size() - 1);
        List<Integer> docs = dataDocs(last);
        int doc = docs.get(docs.size() - 1);
        try (RandomAccessFile f = new RandomAccessFile(last.toFile(), "rw")) {
            f.setLength(doc + 30);
        }
        Cli.Result r = Cli.run("verify", "--log", log.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.out()).contains("reported position").contains("stable");
    }

    @Test
    void zeroFilledRegionIsDamage() throws Exception {
        Path log = copy("zero");
        Path seg = segments(log).get(0);
        List<Integer> docs = dataDocs(seg);
        int from = docs.get(docs.size() / 3);
        patch(seg, from, new byte[4096]);
        Cli.Result r = Cli.run("verify", "--log", log.toString(), "--json");
        assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.out()).contains("\"sound\":false").contains("\"severity\":\"damage\"");
    }

    @Test
    void damagedChronicleHeadersAreReportedNotHungOn() throws Exception {
        // The store header at the start of a segment, and a document header in the middle set to
        // "not complete" with an absurd length.
        Path log = copy("headers");
        Path seg = segments(log).get(0);
        patch(seg, 0, new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0x3F});
        Path seg2 = segments(log).get(1);
        List<Integer> docs = dataDocs(seg2);
        patch(seg2, docs.get(docs.size() / 2), new byte[] {(byte) 0xF0, (byte) 0xFF, (byte) 0xFF, (byte) 0xBF});
        Cli.Result r = Cli.run("verify", "--log", log.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isEqualTo(1);
        assertThat(r.out()).contains(seg.getFileName().toString()).contains(seg2.getFileName().toString());
        Cli.Result i = Cli.run("inspect", "--log", log.toString(), "--no-records");
        assertThat(i.exit()).isEqualTo(1);
        assertThat(i.out()).contains("records by type");
    }

    @Test
    void missingSegmentIsAGap() throws Exception {
        Path log = copy("missing");
        List<Path> segs = segments(log);
        assertThat(segs.size()).isGreaterThan(2);
        Files.delete(segs.get(1));
        Cli.Result r = Cli.run("verify", "--log", log.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).contains("are missing");
    }

    @Test
    void tornTailAfterACrashIsNormal() throws Exception {
        Path log = tmp.resolve("crashed");
        Files.createDirectories(log);
        try (JavaProcess w = JavaProcess.start(Map.of(), StressWriter.class, log.toString(), "2", "stallAt=2000")) {
            w.await(l -> l.startsWith("READY"), 60);
            w.await(l -> l.startsWith("ACK 2 "), 60);
            // Wait until the writer thread is stuck inside its unfinished document.
            w.awaitErr(l -> l.contains("stalled inside an unfinished document"), 60);
            w.kill9();
        }
        Cli.Result r = Cli.run("verify", "--log", log.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("torn tail").contains("never reported stable").contains("bytes dropped");
    }

    @Test
    void liveSecondWriterIsRefusedWithThePid() throws Exception {
        Path log = tmp.resolve("shared");
        Files.createDirectories(log);
        try (JavaProcess w = JavaProcess.start(Map.of(), StressWriter.class, log.toString(), "1", "every=100")) {
            w.await(l -> l.startsWith("READY"), 60);
            assertThatThrownBy(() -> LogWriter.open(log)).isInstanceOf(LogWriterException.class)
                    .hasMessageContaining("already being written")
                    .hasMessageContaining("pid " + w.process.pid());
            w.kill9();
        }
        // Dead holder: the OS released the lock, a new writer proceeds.
        try (LogWriter w = LogWriter.open(log)) {
            w.awaitStable(w.append(RecordTypes.NOTE, 5, 0, new byte[] {1}));
        }
    }

    @Test
    void notALogIsAUsageError() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Cli.Result r = Cli.run("verify", "--log", empty.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("not a Revenant log");
        Cli.Result m = Cli.run("inspect", "--log", tmp.resolve("nope").toString());
        assertThat(m.exit()).isEqualTo(2);
        assertThat(m.err()).contains("does not exist");
        Cli.Result u = Cli.run("verify");
        assertThat(u.exit()).isEqualTo(2);
        assertThat(u.err()).contains("--log");
    }

    @Test
    void inspectFiltersAndJson() throws Exception {
        Cli.Result r = Cli.run("inspect", "--log", pristine.toString(), "--type", "NOTE", "--thread", "2", "--from",
                "10", "--to", "30");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("sessions:").contains("epoch 0").contains("records by type:");
        List<String> recordLines = r.out().lines().filter(l -> l.matches("\\s+\\d+\\s+NOTE.*")).toList();
        assertThat(recordLines).isNotEmpty().allMatch(l -> l.contains("thread=2"));
        assertThat(recordLines).hasSize(7); // positions 10..30 of thread 2 (every third record)
        Cli.Result j = Cli.run("inspect", "--log", pristine.toString(), "--json", "--from", "0", "--to", "0");
        assertThat(j.out()).startsWith("{").contains("\"recordList\":[{\"position\":0,\"type\":\"HEADER\"");
    }

    static List<LogRecord> readAll(Path dir, LogReader.Mode mode) throws IOException {
        List<LogRecord> out = new ArrayList<>();
        try (LogReader r = LogReader.open(dir, mode)) {
            for (LogRecord rec; (rec = r.next()) != null; ) {
                out.add(rec);
            }
        }
        return out;
    }
}
