package dev.revenant.log;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Reads a whole log and reports whether it is sound: what {@code revenant verify} prints.
 * Damage (exit 1) is anything that loses or contradicts a record the log should hold; a torn tail
 * after a crash is normal and reported without failing. Force-timing documents are not checked
 * (they are statistics: a torn or missing one is no loss); a caller may collect them on the way.
 */
public final class LogVerifier {

    /** Outcome of a full read. */
    public record Report(Path directory, List<Path> segments, long records, long firstPosition, long lastPosition,
                         long stableWatermark, Map<Integer, Long> countsByType, Map<Long, Long> countsByThread,
                         List<LogHeader> sessions, List<LogIssue> issues) {

        public boolean sound() {
            return issues.stream().noneMatch(LogIssue::isDamage);
        }

        public List<LogIssue> damage() {
            return issues.stream().filter(LogIssue::isDamage).toList();
        }

        public List<LogIssue> tornTails() {
            return issues.stream().filter(i -> !i.isDamage()).toList();
        }

        public long droppedBytes() {
            return issues.stream().mapToLong(LogIssue::droppedBytes).sum();
        }
    }

    private LogVerifier() {}

    public static Report verify(Path dir) throws IOException {
        return verify(dir, r -> { });
    }

    /** Verifies, handing every intact record to {@code each} on the way (for progress or listing). */
    public static Report verify(Path dir, Consumer<LogRecord> each) throws IOException {
        return verify(dir, each, null);
    }

    /** As {@link #verify(Path, Consumer)}, also handing every force timing in the log to {@code timings}. */
    public static Report verify(Path dir, Consumer<LogRecord> each, Consumer<ForceTiming> timings) throws IOException {
        Map<Integer, Long> byType = new TreeMap<>();
        Map<Long, Long> byThread = new TreeMap<>();
        List<LogHeader> sessions = new ArrayList<>();
        List<LogIssue> extra = new ArrayList<>();
        long first = -1;
        long count = 0;
        long expectedStart = Truncation.firstPosition(dir);
        try (LogReader r = LogReader.open(dir, LogReader.Mode.LENIENT)) {
            if (timings != null) {
                r.onForceTiming(timings);
            }
            for (LogRecord rec; (rec = r.next()) != null; ) {
                if (first < 0) {
                    first = rec.position();
                    if (first != expectedStart) {
                        extra.add(new LogIssue(LogIssue.Severity.DAMAGE, expectedStart, null, -1, 0,
                                "the log should start at position " + expectedStart + " but its first intact record is "
                                        + first + " (a segment is missing or its start is damaged)"));
                    }
                }
                count++;
                byType.merge(rec.type(), 1L, Long::sum);
                byThread.merge(rec.thread(), 1L, Long::sum);
                if (rec.type() == RecordTypes.HEADER) {
                    try {
                        LogHeader h = LogHeader.decode(rec.payload());
                        sessions.add(h);
                        if (h.formatVersion() != RecordDescriptor.FORMAT_VERSION) {
                            extra.add(new LogIssue(LogIssue.Severity.DAMAGE, rec.position(), null, -1, 0,
                                    "log format version " + h.formatVersion() + " is not supported by this build (it reads "
                                            + RecordDescriptor.FORMAT_VERSION + ")"));
                        }
                    } catch (RuntimeException e) {
                        extra.add(new LogIssue(LogIssue.Severity.DAMAGE, rec.position(), null, -1, 0,
                                "session header cannot be decoded: " + e.getMessage()));
                    }
                }
                each.accept(rec);
            }
            if (count == 0) {
                extra.add(new LogIssue(LogIssue.Severity.DAMAGE, expectedStart, null, -1, 0,
                        "the log holds no intact record"));
            }
            List<LogIssue> issues = new ArrayList<>(r.issues());
            issues.addAll(extra);
            issues.sort((a, b) -> Long.compare(a.position(), b.position()));
            return new Report(r.directory(), r.segments(), count, first, r.lastPosition(), r.stableWatermark(), byType,
                    byThread, sessions, issues);
        }
    }
}
