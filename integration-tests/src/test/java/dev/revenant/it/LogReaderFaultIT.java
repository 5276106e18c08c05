package dev.revenant.it;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import dev.revenant.log.LogIssue;
import dev.revenant.log.LogReader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.LogOptions;
import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The log reader against damage at every place it can be, in-process: a byte flipped or the file
 * cut at each offset of the last 64 KiB written, bytes flipped at random offsets anywhere, pages
 * zeroed, segment files missing. Every outcome must be one of two: the reader hands back every
 * record the writer reported stable, each byte as written, or it reports damage naming the
 * position and segment (or refuses the directory with a message). A record with other bytes than
 * were written, or a stable record missing without a damage report, fails the case.
 *
 * <p>CI runs a sample (every byte of the last 2 KiB, every 32nd byte of the rest of the 64 KiB,
 * 100 random offsets elsewhere); {@code -Plong} every byte of the 64 KiB and 2000 random offsets.
 */
class LogReaderFaultIT {
    static final boolean LONG = "long".equals(System.getProperty("revenant.it.faultMatrix", "short"));
    static final int TAIL = 64 << 10;

    @TempDir
    Path tmp;
    Path log;
    final Map<Long, byte[]> written = new HashMap<>();
    long stable;

    @BeforeEach
    void writeLog() throws Exception {
        log = tmp.resolve("log");
        try (LogWriter w = LogWriter.open(log, new LogOptions().segmentBytes(96 << 10).blockSize(64 << 10))) {
            for (int i = 0; i < 4000; i++) {
                byte[] p = StressWriter.payload(1 + i % 3, i / 3);
                long pos = w.append(RecordTypes.NOTE, 1 + i % 3, i / 3, p);
                written.put(pos, p);
                if (i % 300 == 0) {
                    w.awaitStable(pos);
                }
            }
            stable = w.appendedPosition();
        }
    }

    /** One place in the log: a segment file and an offset in it. */
    record Spot(Path segment, long offset) {}

    /** The last {@code bytes} bytes of data written, newest segment first, as spots in file order. */
    List<Spot> lastBytes(int bytes) throws IOException {
        List<Path> segs = LogDamageIT.segments(log);
        List<Spot> out = new ArrayList<>();
        for (int i = segs.size() - 1; i >= 0 && out.size() < bytes; i--) {
            long end = dataEnd(segs.get(i));
            for (long o = end - 1; o >= 0 && out.size() < bytes; o--) {
                out.add(new Spot(segs.get(i), o));
            }
        }
        java.util.Collections.reverse(out);
        return out;
    }

    /** Where Chronicle's framing ends in a segment: the first zero header (or the end-of-file marker's end). */
    static long dataEnd(Path segment) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(segment)).order(ByteOrder.LITTLE_ENDIAN);
        int off = 0;
        while (off + 4 <= b.limit()) {
            int h = b.getInt(off);
            if (h == 0) {
                break;
            }
            if (h == 0xC0000000) {
                return off + 4;
            }
            off += 4 + ((h & 0x3FFFFFFF) + 3 & ~3);
        }
        return Math.min(off, b.limit());
    }

    /** What one read of the damaged log gave: fine, or why not. */
    String judge() {
        try (LogReader r = LogReader.open(log, LogReader.Mode.LENIENT)) {
            long expect = 0;
            List<Long> missing = new ArrayList<>();
            for (LogRecord rec; (rec = r.next()) != null; ) {
                byte[] want = written.get(rec.position());
                if (want == null && rec.type() == RecordTypes.HEADER && rec.position() == 0) {
                    expect = 1; // the writer's own session header
                    continue;
                }
                if (want == null || !Arrays.equals(want, rec.payload())) {
                    return "record at position " + rec.position() + " handed out with bytes that were never written";
                }
                for (long p = expect; p < rec.position() && missing.size() < 3; p++) {
                    missing.add(p);
                }
                expect = rec.position() + 1;
            }
            for (long p = expect; p <= stable && missing.size() < 3; p++) {
                missing.add(p);
            }
            boolean damage = false;
            for (LogIssue i : r.issues()) {
                if (i.isDamage()) {
                    if (i.position() < 0 && i.segment() == null) {
                        return "damage reported without a position or segment: " + i;
                    }
                    damage = true;
                }
            }
            if (!missing.isEmpty() && !damage) {
                return "stable position(s) " + missing + " missing and no damage reported (issues " + r.issues() + ")";
            }
            return null;
        } catch (IOException e) {
            // Refusing the directory is a clear outcome when the message says what and where.
            String m = String.valueOf(e.getMessage());
            return m.contains(".cq4") || m.contains("position") || m.contains(log.toString()) ? null
                    : "refused without saying where: " + e;
        } catch (RuntimeException e) {
            return "the reader broke: " + e;
        }
    }

    static byte read(Path f, long off) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.seek(off);
            return raf.readByte();
        }
    }

    static void write(Path f, long off, byte[] b) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.seek(off);
            raf.write(b);
        }
    }

    void flipAt(FaultCase fc, Spot s) throws IOException {
        byte orig = read(s.segment(), s.offset());
        write(s.segment(), s.offset(), new byte[] {(byte) (orig ^ 0x5A)});
        try {
            String bad = judge();
            fc.check(bad == null, "flip at " + s.segment().getFileName() + " offset " + s.offset() + ": " + bad);
        } finally {
            write(s.segment(), s.offset(), new byte[] {orig});
        }
    }

    void truncateAt(FaultCase fc, Spot s) throws IOException {
        long end = dataEnd(s.segment());
        byte[] tail = new byte[(int) (end - s.offset())];
        long length;
        try (RandomAccessFile raf = new RandomAccessFile(s.segment().toFile(), "rw")) {
            length = raf.length();
            raf.seek(s.offset());
            raf.readFully(tail);
            raf.setLength(s.offset());
        }
        try {
            String bad = judge();
            fc.check(bad == null, "cut at " + s.segment().getFileName() + " offset " + s.offset() + ": " + bad);
        } finally {
            try (RandomAccessFile raf = new RandomAccessFile(s.segment().toFile(), "rw")) {
                raf.setLength(length);
                raf.seek(s.offset());
                raf.write(tail);
            }
        }
    }

    /** Every LONG offset, else every byte of the last 2 KiB and every 32nd before. */
    List<Spot> tailSpots() throws IOException {
        List<Spot> all = lastBytes(TAIL);
        if (LONG) {
            return all;
        }
        List<Spot> some = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            if (i >= all.size() - 2048 || i % 32 == 0) {
                some.add(all.get(i));
            }
        }
        return some;
    }

    @Test
    void flipAtEveryOffsetOfTheLast64KiB() throws Exception {
        FaultCase.run("reader-flip-last-64k", fc -> {
            for (Spot s : tailSpots()) {
                flipAt(fc, s);
            }
            fc.check(judge() == null, "the restored log reads whole");
        });
    }

    @Test
    void cutAtEveryOffsetOfTheLast64KiB() throws Exception {
        FaultCase.run("reader-cut-last-64k", fc -> {
            for (Spot s : tailSpots()) {
                truncateAt(fc, s);
            }
            fc.check(judge() == null, "the restored log reads whole");
        });
    }

    @Test
    void flipAtRandomOffsetsAnywhere() throws Exception {
        long seed = Long.getLong("revenant.it.seed", System.nanoTime());
        Random rnd = new Random(seed);
        FaultCase.run("reader-flip-random (seed " + seed + ")", fc -> {
            List<Path> segs = LogDamageIT.segments(log);
            int n = LONG ? 2000 : 100;
            for (int i = 0; i < n; i++) {
                Path seg = segs.get(rnd.nextInt(segs.size()));
                flipAt(fc, new Spot(seg, rnd.nextLong(dataEnd(seg))));
            }
        });
    }

    @Test
    void zeroedPages() throws Exception {
        long seed = Long.getLong("revenant.it.seed", System.nanoTime());
        Random rnd = new Random(seed);
        FaultCase.run("reader-zero-page (seed " + seed + ")", fc -> {
            List<Path> segs = LogDamageIT.segments(log);
            int n = LONG ? 500 : 40;
            for (int i = 0; i < n; i++) {
                Path seg = segs.get(rnd.nextInt(segs.size()));
                long pages = Math.max(1, (dataEnd(seg) + 4095) / 4096);
                long off = rnd.nextLong(pages) * 4096;
                byte[] orig = new byte[4096];
                try (RandomAccessFile raf = new RandomAccessFile(seg.toFile(), "rw")) {
                    raf.seek(off);
                    raf.readFully(orig);
                }
                write(seg, off, new byte[4096]);
                try {
                    String bad = judge();
                    fc.check(bad == null, "zeroed page at " + seg.getFileName() + " offset " + off + ": " + bad);
                } finally {
                    write(seg, off, orig);
                }
            }
        });
    }

    @Test
    void eachSegmentMissing() throws Exception {
        FaultCase.run("reader-missing-segment", fc -> {
            List<Path> segs = LogDamageIT.segments(log);
            fc.check(segs.size() >= 3, segs.size() + " segments (want several)");
            for (Path seg : segs) {
                Path aside = tmp.resolve(seg.getFileName() + ".aside");
                Files.move(seg, aside);
                try {
                    String bad = judge();
                    fc.check(bad == null, "without " + seg.getFileName() + ": " + bad);
                } finally {
                    Files.move(aside, seg);
                }
            }
        });
    }
}
