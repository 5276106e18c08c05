package dev.revenant.log;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Reads a log from its start (or a position) to its end, record by record, and says precisely
 * what it could not read.
 *
 * <p>Rules, applied as it goes:
 * <ul>
 *   <li>positions are dense: each record's position is the previous one plus one, across
 *       segments too; a jump is damage (a lost segment, a zeroed region);</li>
 *   <li>a record that fails its CRC, or a broken header, followed later in the same segment by a
 *       valid record is damage in the middle, never skipped silently;</li>
 *   <li>a bad or unfinished record with nothing valid after it in its segment is a torn tail: the
 *       normal result of a crash. It is damage only if a stable watermark read before it (the
 *       writer's marks, written after each force) says it had been reported stable.</li>
 * </ul>
 * In {@link Mode#STRICT} {@link #next} throws {@link LogCorruptException} at the first damage;
 * in {@link Mode#LENIENT} it records the damage in {@link #issues}, continues where it can, and
 * returns every intact record (what {@code verify} and {@code inspect} use).
 */
public final class LogReader implements AutoCloseable {
    public enum Mode { STRICT, LENIENT }

    private final Path dir;
    private final Mode mode;
    private final List<Path> segments;
    private final List<LogIssue> issues = new ArrayList<>();
    private int segmentIndex = -1;
    private SegmentScanner scanner;
    private long expected;
    private boolean suppressGap;
    private long maxStableMark = -1;
    private long lastPosition = -1;
    private long records;
    private boolean finished;
    private java.util.function.Consumer<ForceTiming> timings;

    private LogReader(Path dir, Mode mode, List<Path> segments, long firstPosition) {
        this.dir = dir;
        this.mode = mode;
        this.segments = segments;
        this.expected = firstPosition;
    }

    /** Opens a log for reading from its first record. */
    public static LogReader open(Path dir, Mode mode) throws IOException {
        Path d = LogDirectory.requireReadableLog(dir);
        // A whole log starts at 0, or where a truncation said it now starts: a log whose first
        // record comes later has lost its first segment(s), which is damage like any other gap.
        return new LogReader(d, mode, Segments.list(d), Math.max(0, Truncation.firstPosition(d)));
    }

    /**
     * Opens a log at its last segment that holds a record: what a writer needs to find where the
     * log ends, without reading everything before. Returns null if the log has no segment.
     */
    static LogReader openLastSegments(Path dir) throws IOException {
        List<Path> all = Segments.list(dir);
        if (all.isEmpty()) {
            return null;
        }
        // Walk back over segments with no record in them (created just before a crash).
        int from = all.size() - 1;
        while (from > 0 && SegmentScanner.firstRecord(all.get(from)) == null) {
            from--;
        }
        return new LogReader(dir, Mode.LENIENT, all.subList(from, all.size()), -1);
    }

    /**
     * Position of the last intact record of a log, read from its last segments only (-1 if it has
     * none): how far a replay of the whole log will get.
     */
    public static long endPosition(Path dir) throws IOException {
        try (LogReader r = openLastSegments(LogDirectory.requireReadableLog(dir))) {
            if (r == null) {
                return -1;
            }
            while (r.next() != null) {
                // to the end
            }
            return r.lastPosition();
        }
    }

    public Path directory() {
        return dir;
    }

    public List<Path> segments() {
        return Collections.unmodifiableList(segments);
    }

    /**
     * Hands every force timing the writer noted (one per force that moved the stable position,
     * in file order) to {@code c} as the reader passes it; logs written before force timings were
     * noted have none.
     */
    public void onForceTiming(java.util.function.Consumer<ForceTiming> c) {
        this.timings = c;
    }

    /** Damage and torn tails found so far. */
    public List<LogIssue> issues() {
        return Collections.unmodifiableList(issues);
    }

    /** Highest stable watermark the writer recorded in the part read so far; -1 if none. */
    public long stableWatermark() {
        return maxStableMark;
    }

    /** Position of the last intact record returned; -1 if none. */
    public long lastPosition() {
        return lastPosition;
    }

    public long recordsRead() {
        return records;
    }

    /** Returns the next intact record, or null at the end of the log. */
    public LogRecord next() throws IOException {
        if (pending != null) {
            LogRecord r = pending;
            pending = null;
            return r;
        }
        return advance();
    }

    private LogRecord advance() throws IOException {
        while (!finished) {
            if (scanner == null && !openNextSegment()) {
                finished = true;
                checkPersistedWatermark();
                return null;
            }
            SegmentScanner s = scanner;
            switch (s.peek()) {
                case RECORD -> {
                    LogRecord r = s.record();
                    s.skip();
                    if (expected >= 0 && r.position() != expected && !suppressGap) {
                        if (r.position() > expected) {
                            damage(expected, s, s.offset(), "records " + expected + ".." + (r.position() - 1)
                                    + " are missing (the next intact record is " + r.position() + ")");
                        } else {
                            damage(r.position(), s, s.offset(), "record out of order: position " + r.position()
                                    + " after " + (expected - 1));
                        }
                    }
                    suppressGap = false;
                    expected = r.position() + 1;
                    lastPosition = r.position();
                    records++;
                    return r;
                }
                case META -> {
                    ForceTiming ft = s.forceTiming();
                    if (ft != null && timings != null) {
                        timings.accept(ft);
                    }
                    s.skip();
                }
                case STABLE_MARK -> {
                    maxStableMark = Math.max(maxStableMark, s.stableMark());
                    s.skip();
                }
                case END_EOF -> {
                    long junk = s.lastNonZeroEnd() - (s.offset() + 8L);
                    if (junk > 0) {
                        torn(s, s.offset(), junk, "bytes after the end-of-segment marker (a write torn by a crash, "
                                + "sealed by the next writer)");
                    }
                    closeSegment();
                }
                case END_ZERO -> {
                    int at = s.offset();
                    long end = s.lastNonZeroEnd();
                    if (end > at) {
                        endOfSegmentProblem(s, at, end, "a zero-filled region where the next record should start");
                    } else {
                        closeSegment();
                    }
                }
                case INCOMPLETE -> endOfSegmentProblem(s, s.offset(), s.lastNonZeroEnd(),
                        "a record the writer never finished");
                case BAD_HEADER -> endOfSegmentProblem(s, s.offset(), s.lastNonZeroEnd(),
                        "a document header whose length runs past the end of the segment");
                case BAD_RECORD -> endOfSegmentProblem(s, s.where(), s.lastNonZeroEnd(),
                        "a record that fails its check (" + s.problem() + ")");
            }
        }
        return null;
    }

    /**
     * Something unreadable at {@code at}: damage if a valid record follows in this segment, a torn
     * tail otherwise.
     */
    private void endOfSegmentProblem(SegmentScanner s, int at, long end, String what) throws IOException {
        int again = s.resync(s.offset());
        if (again >= 0) {
            damage(expected, s, at, what + "; intact records follow it, so this is damage, not a torn tail");
            s.seek(again);
            suppressGap = true;
            return;
        }
        long dropped = Math.max(0, end - at);
        if (expected >= 0 && expected <= maxStableMark) {
            damage(expected, s, at, what + "; the writer had reported position " + maxStableMark
                    + " stable, so records up to it must be intact");
        } else {
            torn(s, at, dropped, what + " (" + dropped + " bytes dropped; never reported stable)");
        }
        closeSegment();
    }

    /**
     * At the end: the writer persisted, beside the log, the highest position it reported stable.
     * A log that ends below it lost records that someone was told were safe.
     */
    private void checkPersistedWatermark() throws IOException {
        long persisted = StableWatermarkFile.read(dir);
        maxStableMark = Math.max(maxStableMark, persisted);
        if (persisted > lastPosition && !segments.isEmpty()) {
            damage(lastPosition + 1, null, -1, "the log ends at position " + lastPosition + " but the writer had "
                    + "reported positions up to " + persisted + " stable (" + StableWatermarkFile.FILE
                    + "): records were lost or a segment was cut short");
        }
    }

    private void damage(long position, SegmentScanner s, long offset, String message) throws LogCorruptException {
        LogIssue issue = new LogIssue(LogIssue.Severity.DAMAGE, position, s == null ? null : s.file(), offset, 0,
                message);
        issues.add(issue);
        if (mode == Mode.STRICT) {
            finished = true;
            throw new LogCorruptException(issue);
        }
    }

    private void torn(SegmentScanner s, long offset, long dropped, String message) {
        issues.add(new LogIssue(LogIssue.Severity.TORN_TAIL, expected, s.file(), offset, dropped, message));
    }

    private boolean openNextSegment() throws IOException {
        while (++segmentIndex < segments.size()) {
            Path p = segments.get(segmentIndex);
            if (!Files.exists(p)) {
                damage(expected, null, -1, "segment " + p.getFileName() + " disappeared while reading");
                continue;
            }
            scanner = new SegmentScanner(p);
            return true;
        }
        return false;
    }

    private void closeSegment() throws IOException {
        if (scanner != null) {
            scanner.close();
            scanner = null;
        }
    }

    /** Skips records so that the next one {@link #next} returns has at least {@code position}. */
    public void skipTo(long position) throws IOException {
        // Jump over whole segments while the one after the next still starts at or below the target.
        while (scanner == null && pending == null && segmentIndex + 2 < segments.size()) {
            long nextStart = firstPositionOf(segments.get(segmentIndex + 2));
            if (nextStart < 0 || nextStart > position) {
                break;
            }
            segmentIndex++;
            expected = -1;
        }
        while (true) {
            if (pending == null) {
                pending = advance();
            }
            if (pending == null || pending.position() >= position) {
                return;
            }
            pending = null;
        }
    }

    private LogRecord pending;

    static long firstPositionOf(Path segment) throws IOException {
        LogRecord r = SegmentScanner.firstRecord(segment);
        return r == null ? -1 : r.position();
    }

    @Override
    public void close() throws IOException {
        closeSegment();
    }
}
