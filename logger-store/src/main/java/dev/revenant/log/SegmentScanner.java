package dev.revenant.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Walks the documents of one Chronicle Queue segment file ({@code *.cq4}) directly, without
 * Chronicle's own reader.
 *
 * <p>Why not Chronicle's tailer: after a crash or a power cut the segment may hold a document
 * whose header says "not complete", stale index pages, or damaged headers; Chronicle's reader
 * waits for such documents, or trusts indexes, and is not made to report damage. The framing is
 * simple and has been stable for years: every document starts on a 4-byte boundary with a
 * little-endian int header — low 30 bits the length, bit 30 "metadata", bit 31 "not complete";
 * a zero header means nothing was written there yet; {@code 0xC0000000} is the end-of-file marker
 * a writer puts when it rolls to the next segment. A data document holds one or more whole
 * records back to back (the writer batches what it drained from its ring into one document, which
 * saves Chronicle's per-document lock and header). Every step here is bounded by the file size,
 * so no damage can make it loop or read out of bounds.
 */
final class SegmentScanner implements AutoCloseable {
    static final int NOT_COMPLETE = 0x80000000;
    static final int META_DATA = 0x40000000;
    static final int LENGTH_MASK = 0x3FFFFFFF;
    static final int EOF_MARKER = NOT_COMPLETE | META_DATA;

    /** Magic at the start of our own metadata documents that carry a stable watermark ("RVSM"). */
    static final int STABLE_MARK_MAGIC = 0x4D535652;
    static final int STABLE_MARK_SIZE = 16;
    /**
     * Magic of the force-timing metadata document ("RVFT") the writer puts right after each stable
     * mark since the force-timing addition: {@code magic u32, stable position u64, appended
     * position u64, wall millis u64, force nanos u64, lag nanos u64, check u32} = 48 bytes. A
     * reader that predates it sees an unknown metadata document of another size and skips it, as
     * it skips Chronicle's own; logs without it read as before.
     */
    static final int FORCE_TIMING_MAGIC = 0x54465652;
    static final int FORCE_TIMING_SIZE = 48;

    /** What the scanner found at its current offset. */
    enum Kind {
        /** A data document holding a record whose CRC holds. */
        RECORD,
        /** One of our stable-watermark metadata documents. */
        STABLE_MARK,
        /** Chronicle's own metadata (store header, index arrays): skipped by callers. */
        META,
        /** A data document whose bytes are not a valid record. */
        BAD_RECORD,
        /** A header with the not-complete bit set: a write in progress, or torn by a crash. */
        INCOMPLETE,
        /** A header whose length runs past the end of the file. */
        BAD_HEADER,
        /** Zero header: nothing written here (yet). */
        END_ZERO,
        /** End-of-file marker written when the writer rolled to the next segment. */
        END_EOF
    }

    private final Path file;
    private FileChannel channel;
    private ByteBuffer map;
    private long fileSize;

    private int offset;
    private Kind kind;
    private int docLength;
    /** Inside a data document: offset of the next record and the end of the document. */
    private int inDoc;
    private int docEnd;
    private int recordLength;
    private LogRecord record;
    private long stableMark;
    private ForceTiming forceTiming;
    private RecordDescriptor.Problem problem;

    SegmentScanner(Path file) throws IOException {
        this.file = file;
        this.channel = FileChannel.open(file, StandardOpenOption.READ);
        remap();
    }

    /** Maps the whole file again (a live segment grows); returns true if it got bigger. */
    boolean remap() throws IOException {
        long size = channel.size();
        if (map != null && size == fileSize) {
            return false;
        }
        if (size > Integer.MAX_VALUE) {
            throw new IOException("segment " + file + " is larger than 2 GiB; this reader does not support it");
        }
        MappedByteBuffer m = channel.map(FileChannel.MapMode.READ_ONLY, 0, size);
        map = m.order(ByteOrder.LITTLE_ENDIAN);
        fileSize = size;
        return true;
    }

    Path file() {
        return file;
    }

    long fileSize() {
        return fileSize;
    }

    int offset() {
        return offset;
    }

    Kind kind() {
        return kind;
    }

    LogRecord record() {
        return record;
    }

    long stableMark() {
        return stableMark;
    }

    RecordDescriptor.Problem problem() {
        return problem;
    }

    /** When {@link #peek} returned {@link Kind#META}: the force timing it holds, or null if it is Chronicle's. */
    ForceTiming forceTiming() {
        return forceTiming;
    }

    int docLength() {
        return docLength;
    }

    /** Reads what is at the current offset (inside a batch document or at a document header) without moving. */
    Kind peek() {
        record = null;
        problem = null;
        forceTiming = null;
        if (inDoc < docEnd) {
            return peekRecord();
        }
        docLength = 0;
        inDoc = docEnd = 0;
        if ((long) offset + 4 > fileSize) {
            return kind = Kind.END_ZERO;
        }
        int header = map.getInt(offset);
        if (header == 0) {
            return kind = Kind.END_ZERO;
        }
        if (header == EOF_MARKER) {
            return kind = Kind.END_EOF;
        }
        int len = header & LENGTH_MASK;
        docLength = len;
        if ((header & NOT_COMPLETE) != 0) {
            return kind = Kind.INCOMPLETE;
        }
        if ((long) offset + 4 + len > fileSize) {
            return kind = Kind.BAD_HEADER;
        }
        int body = offset + 4;
        if ((header & META_DATA) != 0) {
            if (len == STABLE_MARK_SIZE && map.getInt(body) == STABLE_MARK_MAGIC) {
                long mark = map.getLong(body + 4);
                if (map.getInt(body + 12) == stableMarkCheck(mark)) {
                    stableMark = mark;
                    return kind = Kind.STABLE_MARK;
                }
            }
            if (len == FORCE_TIMING_SIZE && map.getInt(body) == FORCE_TIMING_MAGIC) {
                long pos = map.getLong(body + 4);
                long appended = map.getLong(body + 12);
                long wall = map.getLong(body + 20);
                long force = map.getLong(body + 28);
                long lag = map.getLong(body + 36);
                if (map.getInt(body + 44) == forceTimingCheck(pos, appended, wall, force, lag)) {
                    forceTiming = new ForceTiming(pos, appended, wall, force, lag);
                }
            }
            return kind = Kind.META;
        }
        inDoc = body;
        docEnd = body + len;
        return peekRecord();
    }

    private Kind peekRecord() {
        int room = docEnd - inDoc;
        int len = room >= RecordDescriptor.OVERHEAD
                ? RecordDescriptor.OVERHEAD + map.getInt(inDoc + RecordDescriptor.LENGTH_OFFSET) : room;
        if (len < RecordDescriptor.OVERHEAD || len > room) {
            problem = RecordDescriptor.Problem.LENGTH_MISMATCH;
            return kind = Kind.BAD_RECORD;
        }
        problem = RecordDescriptor.check(map, inDoc, len);
        if (problem != RecordDescriptor.Problem.OK) {
            return kind = Kind.BAD_RECORD;
        }
        recordLength = len;
        record = RecordDescriptor.decode(map, inDoc);
        return kind = Kind.RECORD;
    }

    /** Moves past the current record, or past the current document if it was not a record. */
    void skip() {
        if (kind == Kind.RECORD) {
            inDoc += recordLength;
            if (inDoc < docEnd) {
                return;
            }
        }
        inDoc = docEnd = 0;
        offset = align(offset + 4 + docLength);
    }

    /** Offset in the file of what {@link #peek} looked at: the record inside a document, or the header. */
    int where() {
        return inDoc < docEnd ? inDoc : offset;
    }

    /**
     * Looks for the next document header after {@code from} whose first record is valid, for
     * telling a damaged middle from a torn end. Returns -1 if none.
     */
    int resync(int from) {
        for (int o = align(from + 4); (long) o + 4 + RecordDescriptor.OVERHEAD <= fileSize; o += 4) {
            int header = map.getInt(o);
            if (header == 0 || (header & (NOT_COMPLETE | META_DATA)) != 0) {
                continue;
            }
            int len = header & LENGTH_MASK;
            if (len < RecordDescriptor.OVERHEAD || (long) o + 4 + len > fileSize) {
                continue;
            }
            int first = RecordDescriptor.OVERHEAD + map.getInt(o + 4 + RecordDescriptor.LENGTH_OFFSET);
            if (first >= RecordDescriptor.OVERHEAD && first <= len
                    && RecordDescriptor.check(map, o + 4, first) == RecordDescriptor.Problem.OK) {
                return o;
            }
        }
        return -1;
    }

    /** Returns the offset just past the last non-zero byte of the file (0 if all zero). */
    long lastNonZeroEnd() {
        long end = fileSize;
        // Step back a long at a time over the zero-filled rest of the block.
        while (end >= 8 && map.getLong((int) end - 8) == 0) {
            end -= 8;
        }
        while (end > 0 && map.get((int) end - 1) == 0) {
            end--;
        }
        return end;
    }

    /**
     * The first record of a segment file, skipping Chronicle's metadata; null if the segment
     * holds none (or starts damaged).
     */
    static LogRecord firstRecord(Path segment) throws IOException {
        try (SegmentScanner s = new SegmentScanner(segment)) {
            while (true) {
                Kind k = s.peek();
                if (k == Kind.RECORD) {
                    return s.record();
                }
                if (k != Kind.META && k != Kind.STABLE_MARK) {
                    return null;
                }
                s.skip(); // moves forward by at least 4 bytes, so this ends within the file
            }
        }
    }

    /** Continues at a document header found by {@link #resync}. */
    void seek(int newOffset) {
        offset = newOffset;
        inDoc = docEnd = 0;
    }

    static int align(long o) {
        return (int) ((o + 3) & ~3L);
    }

    /** Check value of a stable mark: a cheap mix, enough to reject a torn or random 16 bytes. */
    static int stableMarkCheck(long mark) {
        long x = mark * 0x9E3779B97F4A7C15L;
        return (int) (x ^ (x >>> 32)) ^ STABLE_MARK_MAGIC;
    }

    /** Check value of a force-timing document, mixed like the stable mark's. */
    static int forceTimingCheck(long pos, long appended, long wall, long force, long lag) {
        long x = pos;
        for (long v : new long[] {appended, wall, force, lag}) {
            x = (x ^ v) * 0x9E3779B97F4A7C15L;
        }
        return (int) (x ^ (x >>> 32)) ^ FORCE_TIMING_MAGIC;
    }

    @Override
    public void close() throws IOException {
        map = null;
        channel.close();
    }
}
