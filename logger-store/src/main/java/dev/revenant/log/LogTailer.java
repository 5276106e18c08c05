package dev.revenant.log;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Follows a log that another process is writing: returns records as they become complete.
 *
 * <p>Unlike {@link LogReader} it treats "nothing written yet" and "a write in progress" as "wait",
 * not as the end; it remaps a segment as it grows and moves on when the writer rolls to the next.
 * A record that fails its check, with a complete one after it, is damage and throws.
 */
public final class LogTailer implements AutoCloseable {
    private final Path dir;
    private SegmentScanner scanner;
    private Path current;
    private long expected = -1;
    private long stableMark = -1;

    private LogTailer(Path dir) {
        this.dir = dir;
    }

    /** Follows a log from its first record. */
    public static LogTailer open(Path dir) throws IOException {
        return new LogTailer(LogDirectory.requireReadableLog(dir));
    }

    /**
     * Follows a log from the segment that holds {@code fromPosition} (the last segment whose first
     * record is at or below it), so a tool that wants only the recent end need not scan the whole
     * log. Records before {@code fromPosition} in that segment are still returned: the caller
     * skips them.
     */
    public static LogTailer open(Path dir, long fromPosition) throws IOException {
        LogTailer t = new LogTailer(LogDirectory.requireReadableLog(dir));
        List<Path> segments = Segments.list(t.dir);
        Path before = null;
        for (int i = 0; i < segments.size(); i++) {
            LogRecord first = SegmentScanner.firstRecord(segments.get(i));
            if (first != null && first.position() > fromPosition) {
                break;
            }
            if (first != null) {
                before = i == 0 ? null : segments.get(i - 1);
            }
        }
        t.current = before; // advanceSegment opens the first segment after it
        return t;
    }

    /** Highest stable mark the writer has written so far. */
    public long stableWatermark() {
        return stableMark;
    }

    /** The next complete record, or null if there is none yet. Never blocks. */
    public LogRecord poll() throws IOException {
        for (int guard = 0; guard < 100_000; guard++) {
            if (scanner == null && !advanceSegment()) {
                return null;
            }
            switch (scanner.peek()) {
                case RECORD -> {
                    LogRecord r = scanner.record();
                    scanner.skip();
                    if (expected >= 0 && r.position() != expected) {
                        throw new LogCorruptException(new LogIssue(LogIssue.Severity.DAMAGE, expected, current,
                                scanner.offset(), 0, "expected position " + expected + " but found " + r.position()));
                    }
                    expected = r.position() + 1;
                    return r;
                }
                case META -> scanner.skip();
                case STABLE_MARK -> {
                    stableMark = Math.max(stableMark, scanner.stableMark());
                    scanner.skip();
                }
                case END_EOF -> {
                    scanner.close();
                    scanner = null;
                }
                case END_ZERO, INCOMPLETE -> {
                    // The writer has not got here yet — unless this segment was left by a crashed
                    // session and the next one continues the positions. Moving on merely because a
                    // newer file exists would skip records still to come here (Chronicle may create
                    // the next file before the last write to this one is visible).
                    if (!scanner.remap() && nextSegmentContinues()) {
                        scanner.close();
                        scanner = null;
                        continue;
                    }
                    return null;
                }
                case BAD_HEADER -> {
                    if (!scanner.remap()) {
                        return null;
                    }
                }
                case BAD_RECORD -> throw new LogCorruptException(new LogIssue(LogIssue.Severity.DAMAGE, expected,
                        current, scanner.where(), 0, "record fails its check (" + scanner.problem() + ")"));
            }
        }
        return null;
    }

    /** True if the segment after the current one starts exactly at the next expected position. */
    private boolean nextSegmentContinues() throws IOException {
        for (Path p : Segments.list(dir)) {
            if (p.compareTo(current) > 0) {
                LogRecord first = SegmentScanner.firstRecord(p);
                return first != null && (expected < 0 || first.position() == expected);
            }
        }
        return false;
    }

    private boolean advanceSegment() throws IOException {
        for (Path p : Segments.list(dir)) {
            if (current == null || p.compareTo(current) > 0) {
                current = p;
                scanner = new SegmentScanner(p);
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() throws IOException {
        if (scanner != null) {
            scanner.close();
        }
    }
}
