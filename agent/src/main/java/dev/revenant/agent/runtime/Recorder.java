package dev.revenant.agent.runtime;

import dev.revenant.bridge.Determinants;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogWriter;

/**
 * Record mode: every determinant is appended to the log on the calling thread (a copy into the
 * writer's ring; the disk is not waited for). If the log has failed, the app keeps running on live
 * values and the failure is reported once, loudly: the log no longer covers this run.
 */
final class Recorder implements Determinants {
    private final LogWriter log;
    private volatile boolean reportedFailure;
    /** {@code check=stamps}: each determinant is followed by its thread's stamp counter and tick. */
    private final boolean checkStamps;

    Recorder(LogWriter log, boolean checkStamps) {
        this.log = log;
        this.checkStamps = checkStamps;
    }

    LogWriter log() {
        return log;
    }

    /** Appends one determinant of the calling thread; its position, or -1 if the log failed. */
    long append(ThreadState t, int kind, byte[] payload) {
        if (dev.revenant.bridge.TickTrace.on()) {
            dev.revenant.bridge.TickTrace.determinant(t, t.seq, kind, false);
        }
        long stamps = checkStamps ? dev.revenant.bridge.IdentityHashes.threadCounter() : 0;
        long p = log.append(DeterminantCodec.recordType(kind), t.vid, t.seq++, payload);
        if (checkStamps && p >= 0) {
            log.append(dev.revenant.log.RecordTypes.STAMP_CHECK, t.vid, t.seq - 1, StampCheck.payload(stamps, t.ticks));
        }
        // A log closed at JVM exit (our shutdown hook) while app threads still run is no failure.
        if (p < 0 && !reportedFailure && !log.isClosing() && !LogHealth.told) {
            reportedFailure = true;
            AgentLog.error("recording stopped: the log " + log.directory() + " cannot take more records ("
                    + (log.failure() == null ? "closed" : log.failure().getMessage())
                    + "); this run can no longer be replayed past position " + log.appendedPosition());
        }
        return p;
    }

    /** A switch of the serial scheduler's run token to {@code to}; its position, or -1 if the log failed. */
    long appendSwitch(ThreadState to, long fromVid, long fromTick) {
        return log.append(dev.revenant.log.RecordTypes.SCHEDULE, to.vid,
                dev.revenant.agent.runtime.schedule.SerialScheduler.tickOf(fromTick),
                Replayer.switchPayload(fromVid, fromTick));
    }

    @Override
    public long value(ThreadState t, int kind, long live) {
        append(t, kind, DeterminantCodec.value(kind, live));
        return live;
    }

    @Override
    public long[] pair(ThreadState t, int kind, long a, long b) {
        append(t, kind, DeterminantCodec.pair(kind, a, b));
        return new long[] {a, b};
    }

    @Override
    public void bytes(ThreadState t, int kind, byte[] buf, int off, int len) {
        append(t, kind, DeterminantCodec.bytes(kind, buf, off, len));
    }
}
