package dev.revenant.log;

import java.util.Arrays;

/**
 * One decoded record of the log.
 *
 * @param position  dense sequence number the log assigned (0 for the first record of a log)
 * @param type      record type, see {@link RecordTypes}
 * @param flags     reserved, 0 today
 * @param epoch     incarnation of the process that wrote it (0 for the record run)
 * @param thread    virtual id of the thread the event belongs to
 * @param threadSeq per-thread sequence number of the event
 * @param payload   the determinant's data
 */
public record LogRecord(long position, int type, int flags, int epoch, long thread, long threadSeq, byte[] payload) {

    public String typeName() {
        return RecordTypes.name(type);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LogRecord r && r.position == position && r.type == type && r.flags == flags
                && r.epoch == epoch && r.thread == thread && r.threadSeq == threadSeq
                && Arrays.equals(r.payload, payload);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(position) * 31 + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
        return "LogRecord[" + position + " " + typeName() + " epoch=" + epoch + " thread=" + thread + " seq="
                + threadSeq + " " + payload.length + "B]";
    }
}
