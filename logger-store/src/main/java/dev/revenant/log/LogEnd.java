package dev.revenant.log;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * What a new writer session learns from the log it continues, read with the log's own rules: the
 * last position, what was stable, how many torn bytes it drops, and the newest session's epoch
 * (all -1 / 0 for an empty log). A damaged log is refused. Records the previous writer wrote but
 * never forced are forced now: a recovered process builds on them.
 */
record LogEnd(long previousEnd, long previousStable, long dropped, int lastEpoch) {
    static LogEnd read(Path d) throws IOException {
        long previousEnd = -1;
        long previousStable = -1;
        long dropped = 0;
        int lastEpoch = -1;
        try (LogReader tail = LogReader.openLastSegments(d)) {
            if (tail != null) {
                while (tail.next() != null) {
                    // read to the end: we need where the log ends and what was stable
                }
                for (LogIssue issue : tail.issues()) {
                    if (issue.isDamage()) {
                        throw new LogWriterException("log " + d + " is damaged, refusing to append to it: "
                                + issue + " — run `revenant verify --log " + d + "` for the full report");
                    }
                    dropped += issue.droppedBytes();
                }
                previousEnd = tail.lastPosition();
                previousStable = tail.stableWatermark();
                // Records the previous writer wrote but never forced (it crashed) may be in the
                // page cache only; a recovered process builds on them, so they must survive a
                // power cut before anything of this session can count as stable.
                for (Path seg : tail.segments()) {
                    try (FileChannel ch = FileChannel.open(seg, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                        ch.force(false);
                    }
                }
                lastEpoch = lastEpoch(d);
            }
        }
        return new LogEnd(previousEnd, previousStable, dropped, lastEpoch);
    }

    /** Epoch of the newest session header, found from the first record of each segment, newest first. */
    private static int lastEpoch(Path d) throws IOException {
        java.util.List<Path> segs = Segments.list(d);
        for (int i = segs.size() - 1; i >= 0; i--) {
            LogRecord first = SegmentScanner.firstRecord(segs.get(i));
            if (first != null && first.type() == RecordTypes.HEADER) {
                return first.epoch();
            }
        }
        return -1;
    }
}
