package dev.revenant.log;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import net.openhft.chronicle.queue.RollCycle;

/**
 * The writer thread's room on disk: which Chronicle cycle (segment) it writes, the blocks reserved
 * in that segment and in the next one before Chronicle creates it ({@link SegmentSpace}), how far
 * Chronicle has written into the current file, and whether the file system has refused room (the
 * writer is paused then, and says so once). Only the writer thread calls it, except for the
 * volatile fields {@link #cycle} (Chronicle's clock), {@link #pause}, {@link #zeroedBytes} and the
 * health listener.
 */
final class SegmentRoom implements AutoCloseable {
    /** Zeros are written when less than {@code zeroAhead - ZERO_CHUNK} lie ahead: at least this much at a time. */
    private static final long ZERO_CHUNK = 512L << 10;

    /**
     * How long after the first segment switch the POSIX layer (for fallocate) is built;
     * {@code -Drevenant.log.posixDelayMillis} changes it (tests keep a run on written reservations).
     */
    private static final long POSIX_DELAY_MILLIS = Math.max(0, Long.getLong("revenant.log.posixDelayMillis", 500));

    private final Path dir;
    private final LogOptions options;
    private final RollCycle rollCycle;
    /**
     * How far beyond the end of the last document it was handed Chronicle may have written: when
     * a data document closes, Chronicle indexes it, and that may allocate index arrays right after
     * it ({@code indexCount} longs plus a small header each; at a file's first document both the
     * index-of-indexes and the first index array). Zeros go only beyond this.
     */
    private final long chronicleBeyondEnd;

    private volatile int cycle;
    private long bytesInSegment;
    private SegmentSpace space;
    private SegmentSpace nextSpace;
    /** End of what Chronicle has written into the current segment (a file offset). */
    private long fileEnd;
    private volatile LogSpaceException pause;
    private long pausedAtNanos;
    /** Bytes of reserved space filled with zeros ahead of Chronicle, all segments (for tests). */
    private volatile long zeroedBytes;
    private volatile LogWriter.HealthListener health;

    SegmentRoom(Path dir, LogOptions options, RollCycle rollCycle) {
        this.dir = dir;
        this.options = options;
        this.rollCycle = rollCycle;
        this.chronicleBeyondEnd = 2 * (rollCycle.defaultIndexCount() * 8L + 4096) + 4096;
    }

    /** The cycle Chronicle's clock shows: the segment the next document goes into. */
    int cycle() {
        return cycle;
    }

    void health(LogWriter.HealthListener listener) {
        this.health = listener;
    }

    /** Who hears about pauses, resumptions and (from the writer) failures; null: stderr. */
    LogWriter.HealthListener health() {
        return health;
    }

    /** Why the writer is paused, or null while it writes. */
    LogSpaceException pause() {
        return pause;
    }

    long zeroedBytes() {
        return zeroedBytes;
    }

    /**
     * Starts after the last cycle an earlier session wrote (never appending to its segment) and
     * reserves blocks for that first segment and for Chronicle's metadata file before Chronicle
     * writes into either through its mapping: a full disk is an error here, never a SIGBUS later.
     */
    void begin(int lastCycle, Path metadata) throws IOException {
        int first = 1;
        cycle = Math.max(first, lastCycle == Integer.MIN_VALUE || lastCycle < 0 ? first : lastCycle + 1);
        nextSpace = reserveSegment(cycle);
        reserveWhole(metadata);
    }

    /**
     * Blocks are reserved by writing zeros when zero-filling is on (it writes them anyway), by
     * {@code fallocate} only when it is off: see {@link SegmentSpace}.
     */
    private boolean written() {
        return options.zeroAhead > 0 ? SegmentSpace.WRITTEN : SegmentSpace.ALLOCATED;
    }

    /**
     * Creates the file Chronicle will use for {@code c} under the name it looks for before it
     * creates one itself ({@code <segment>.precreated}, which it renames into place), with
     * the first blocks reserved. Null if reservation is not supported here.
     */
    private SegmentSpace reserveSegment(int c) throws IOException {
        String name = java.time.format.DateTimeFormatter.ofPattern(rollCycle.format())
                .withZone(java.time.ZoneOffset.UTC).format(java.time.Instant.ofEpochMilli((long) c * rollCycle.lengthInMillis()));
        Path seg = dir.resolve(name + Segments.SUFFIX);
        if (Files.exists(seg)) {
            return null; // not expected: a new session always starts a new cycle
        }
        Path pre = dir.resolve(name + ".precreated");
        try {
            return SegmentSpace.create(pre, seg.getFileName().toString(), options.reserveStep, options.reserveStep,
                    written());
        } catch (IOException e) {
            Files.deleteIfExists(pre);
            throw e;
        }
    }

    private void reserveWhole(Path file) throws IOException {
        if (!Files.exists(file)) {
            return;
        }
        try (SegmentSpace s = SegmentSpace.open(file, 0, 4096, written())) {
            if (s != null) {
                s.ensure(Files.size(file));
            }
        }
    }

    /**
     * Makes sure the file has blocks for a document of {@code bytes} and what Chronicle may write
     * around it, rolling to a new segment first when this one is full. False, with the writer
     * paused, if the file system refuses; nothing has been written then.
     */
    boolean makeRoom(long bytes) {
        try {
            if (bytesInSegment > options.segmentBytes) {
                if (nextSpace == null && SegmentSpace.supported(written())) {
                    nextSpace = reserveSegment(cycle + 1);
                }
                // Chronicle rolls to a new file at the next write once the time provider moves on.
                cycle = cycle + 1;
                bytesInSegment = 0;
            } else if (space != null) {
                long end = fileEnd + bytes;
                long zeroed = space.zeroedTo();
                space.ensure(end + Math.max(options.reserveStep / 2, options.zeroAhead));
                zeroedBytes += space.zeroedTo() - zeroed;
                if (options.zeroAhead > 0 && space.zeroedTo() < end + options.zeroAhead - ZERO_CHUNK) {
                    // On this thread, between two of Chronicle's documents, and only beyond what
                    // Chronicle can have written: never over its bytes.
                    long before = space.zeroedTo();
                    space.zeroAhead(fileEnd + chronicleBeyondEnd, end + options.zeroAhead);
                    zeroedBytes += space.zeroedTo() - before;
                }
            }
        } catch (LogSpaceException e) {
            paused(e);
            return false;
        } catch (IOException e) {
            paused(new LogSpaceException(e.getMessage(), 0, dir));
            return false;
        }
        if (pause != null) {
            resumed();
        }
        return true;
    }

    /** A document of {@code documentBytes} went in; Chronicle's writing ended at file offset {@code end}. */
    void wrote(long documentBytes, long end) {
        bytesInSegment += documentBytes;
        fileEnd = end;
    }

    /** Chronicle wrote up to file offset {@code end} (a metadata document: no reservation of its own). */
    void wroteUpTo(long end) {
        fileEnd = Math.max(fileEnd, end);
    }

    /** False when fewer than {@code bytes} reserved bytes lie beyond what Chronicle wrote (paused). */
    boolean hasRoom(long bytes) {
        return space == null || fileEnd + bytes <= space.reservedTo();
    }

    /** Chronicle moved to the next segment: its reservation becomes the current one. */
    void switched() {
        if (space != null) {
            space.close();
        }
        // The first segment is in use: the start-up path is over (see SegmentSpace).
        SegmentSpace.buildPosixLater(POSIX_DELAY_MILLIS);
        space = nextSpace;
        nextSpace = null;
        fileEnd = 0;
    }

    private void paused(LogSpaceException e) {
        if (pause != null) {
            return;
        }
        pausedAtNanos = System.nanoTime();
        pause = e;
        tell(h -> h.paused(e), "revenant: ERROR: the log " + dir + " cannot be written: " + e.getMessage()
                + ". The writer is paused: nothing new becomes durable. It goes on by itself once the file "
                + "system has room (and is writable) again.");
    }

    private void resumed() {
        long millis = (System.nanoTime() - pausedAtNanos) / 1_000_000;
        pause = null;
        tell(h -> h.resumed(millis), "revenant: the log " + dir + " has room again after " + millis + " ms; writing on");
    }

    /** Tells the health listener, or stderr when there is none; a listener's bug must not stop the log. */
    private void tell(java.util.function.Consumer<LogWriter.HealthListener> call, String otherwise) {
        LogWriter.HealthListener h = health;
        try {
            if (h != null) {
                call.accept(h);
            } else {
                System.err.println(otherwise);
            }
        } catch (Throwable ignored) {
            // the log goes on
        }
    }

    @Override
    public void close() {
        if (space != null) {
            space.close();
        }
        if (nextSpace != null) {
            nextSpace.close();
        }
    }
}
