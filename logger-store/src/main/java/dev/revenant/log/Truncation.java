package dev.revenant.log;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * Drops whole segments below a position (once a checkpoint covers them). The first position kept
 * is written to {@value #FILE} before any segment is deleted, so a reader can tell a truncated
 * log from one that lost its first segments.
 */
public final class Truncation {
    static final String FILE = "truncated.position";

    private Truncation() {}

    /**
     * Deletes every segment whose records all lie below {@code position}; never the last segment.
     * Returns the number of segments deleted.
     */
    public static int dropBelow(Path dir, long position) throws IOException {
        List<Path> segs = Segments.list(dir);
        int drop = 0;
        long keepFrom = -1;
        for (int i = 0; i + 1 < segs.size(); i++) {
            long nextStart = LogReader.firstPositionOf(segs.get(i + 1));
            if (nextStart < 0 || nextStart > position) {
                break;
            }
            drop = i + 1;
            keepFrom = nextStart;
        }
        if (drop == 0) {
            return 0;
        }
        Path tmp = dir.resolve(FILE + ".tmp");
        Files.writeString(tmp, Long.toString(keepFrom) + "\n", StandardCharsets.UTF_8);
        LogDirectory.restrictFile(tmp);
        try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        LogDirectory.fsyncDirectory(dir);
        for (int i = 0; i < drop; i++) {
            Files.deleteIfExists(segs.get(i));
        }
        LogDirectory.fsyncDirectory(dir);
        return drop;
    }

    /** First position the log still holds after truncation; 0 if it was never truncated. */
    public static long firstPosition(Path dir) throws IOException {
        Path f = dir.resolve(FILE);
        if (!Files.exists(f)) {
            return 0;
        }
        String s = Files.readString(f, StandardCharsets.UTF_8).trim();
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new IOException(f + " is damaged (\"" + s + "\"); it should hold the first position kept");
        }
    }
}
