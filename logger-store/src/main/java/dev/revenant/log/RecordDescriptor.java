package dev.revenant.log;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The wire format of one log record: the single place that knows the byte layout.
 *
 * <p>Each record is the body of one Chronicle Queue data document. Chronicle adds its own 4-byte
 * document header in front (30-bit length, a metadata bit and a not-complete bit); everything
 * below is ours, little-endian:
 *
 * <pre>
 *  offset  0       2       4               8                               16
 *          +-------+-------+---------------+-------------------------------+
 *          | type  | flags | epoch         | position                      |
 *          | u16   | u16   | u32           | u64 (dense, assigned by log)  |
 *          +-------+-------+---------------+-------------------------------+
 *      16  | thread (u64, virtual thread id)                               |
 *          +---------------------------------------------------------------+
 *      24  | per-thread sequence (u64)                                     |
 *          +---------------+-----------------------------------------------+
 *      32  | payload length| payload (length bytes) ...                    |
 *          | u32           |                                               |
 *          +---------------+-----------------------------------------------+
 *  36+len  | CRC32C (u32) over bytes [0, 36+len)                           |
 *          +---------------+
 * </pre>
 *
 * Besides data documents of records, a segment holds the writer's own metadata documents (metadata
 * bit set): the 16-byte stable mark ({@code "RVSM"}, stable position, check) after each force, and
 * since force timings were added, right after it, the 48-byte force timing ({@code "RVFT"}, stable
 * position, appended position, wall millis, force nanos, lag nanos, check) — see
 * {@link SegmentScanner}. Readers skip metadata they do not know, so either way old and new builds
 * read each other's logs; no format version change.
 *
 * <p>A record is therefore {@value #OVERHEAD} bytes plus its payload. The CRC covers the header too,
 * so a flipped bit in the position or the type is caught, not only in the payload.
 */
public final class RecordDescriptor {
    /** Format version written in every header record; readers refuse other versions. */
    public static final int FORMAT_VERSION = 1;

    public static final int TYPE_OFFSET = 0;
    public static final int FLAGS_OFFSET = 2;
    public static final int EPOCH_OFFSET = 4;
    public static final int POSITION_OFFSET = 8;
    public static final int THREAD_OFFSET = 16;
    public static final int THREAD_SEQ_OFFSET = 24;
    public static final int LENGTH_OFFSET = 32;
    public static final int PAYLOAD_OFFSET = 36;
    public static final int CRC_SIZE = 4;
    /** Bytes a record adds to its payload. */
    public static final int OVERHEAD = PAYLOAD_OFFSET + CRC_SIZE;
    /** Largest payload one record may carry (Chronicle documents are limited to 1 GiB; we stay far below). */
    public static final int MAX_PAYLOAD = 64 << 20;

    private RecordDescriptor() {}

    public static int recordSize(int payloadLength) {
        return OVERHEAD + payloadLength;
    }

    private static final VarHandle I16 = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle I32 = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle I64 = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /**
     * Encodes a record into {@code dst} at {@code off}; returns the number of bytes written.
     * {@code dst} must have {@link #recordSize(int)} bytes of room. {@code crc} is reset and used
     * as scratch, so a caller on a hot path can keep one (it allocates nothing then).
     */
    public static int encode(byte[] dst, int off, int type, int flags, int epoch, long position, long thread,
                             long threadSeq, byte[] payload, int payloadOff, int payloadLen, CRC32C crc) {
        I16.set(dst, off + TYPE_OFFSET, (short) type);
        I16.set(dst, off + FLAGS_OFFSET, (short) flags);
        I32.set(dst, off + EPOCH_OFFSET, epoch);
        I64.set(dst, off + POSITION_OFFSET, position);
        I64.set(dst, off + THREAD_OFFSET, thread);
        I64.set(dst, off + THREAD_SEQ_OFFSET, threadSeq);
        I32.set(dst, off + LENGTH_OFFSET, payloadLen);
        System.arraycopy(payload, payloadOff, dst, off + PAYLOAD_OFFSET, payloadLen);
        crc.reset();
        crc.update(dst, off, PAYLOAD_OFFSET + payloadLen);
        I32.set(dst, off + PAYLOAD_OFFSET + payloadLen, (int) crc.getValue());
        return OVERHEAD + payloadLen;
    }

    /** Like the other {@code encode}, with a CRC32C of its own. */
    public static int encode(byte[] dst, int off, int type, int flags, int epoch, long position, long thread,
                             long threadSeq, byte[] payload, int payloadOff, int payloadLen) {
        return encode(dst, off, type, flags, epoch, position, thread, threadSeq, payload, payloadOff, payloadLen,
                new CRC32C());
    }

    /** Why a byte range is not a valid record. */
    public enum Problem {
        OK, TOO_SHORT, LENGTH_MISMATCH, BAD_CRC
    }

    /**
     * Checks that {@code len} bytes of {@code buf} starting at {@code off} hold exactly one
     * well-formed record whose CRC holds.
     */
    public static Problem check(ByteBuffer buf, int off, int len) {
        if (len < OVERHEAD) {
            return Problem.TOO_SHORT;
        }
        int payloadLen = buf.order(ByteOrder.LITTLE_ENDIAN).getInt(off + LENGTH_OFFSET);
        if (payloadLen < 0 || payloadLen != len - OVERHEAD) {
            return Problem.LENGTH_MISMATCH;
        }
        CRC32C crc = new CRC32C();
        ByteBuffer slice = buf.duplicate();
        slice.limit(off + PAYLOAD_OFFSET + payloadLen).position(off);
        crc.update(slice);
        int stored = buf.getInt(off + PAYLOAD_OFFSET + payloadLen);
        return stored == (int) crc.getValue() ? Problem.OK : Problem.BAD_CRC;
    }

    /** Decodes a record already {@link #check checked}. */
    public static LogRecord decode(ByteBuffer buf, int off) {
        ByteBuffer b = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int type = b.getShort(off + TYPE_OFFSET) & 0xFFFF;
        int flags = b.getShort(off + FLAGS_OFFSET) & 0xFFFF;
        int epoch = b.getInt(off + EPOCH_OFFSET);
        long position = b.getLong(off + POSITION_OFFSET);
        long thread = b.getLong(off + THREAD_OFFSET);
        long threadSeq = b.getLong(off + THREAD_SEQ_OFFSET);
        int len = b.getInt(off + LENGTH_OFFSET);
        byte[] payload = new byte[len];
        b.position(off + PAYLOAD_OFFSET);
        b.get(payload);
        return new LogRecord(position, type, flags, epoch, thread, threadSeq, payload);
    }
}
