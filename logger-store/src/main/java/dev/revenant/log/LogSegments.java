package dev.revenant.log;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Read-only facts about a log's segment files, for tools that report on a log (sizes per session,
 * where a position lives) without reading every record. Nothing here writes or locks.
 */
public final class LogSegments {
    private LogSegments() {}

    /** The segment files of a log directory, oldest first (names sort in cycle order). */
    public static List<Path> list(Path dir) throws IOException {
        return Segments.list(LogDirectory.requireReadableLog(dir));
    }

    /**
     * The first intact record of one segment file (skipping Chronicle's metadata), or null if the
     * segment holds none: created just before a crash, or damaged at its start.
     */
    public static LogRecord firstRecord(Path segment) throws IOException {
        return SegmentScanner.firstRecord(segment);
    }
}
