package dev.revenant.log;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * What the writer counts for tools and live monitoring, all kept off the app's path: the writer
 * thread counts records and bytes once per drained batch (plain fields, read racily), the thread
 * that forces times each force (a few per millisecond at most) and how long the oldest record it
 * made stable had waited.
 */
final class WriterStats {
    private final AtomicLong forces = new AtomicLong();
    private final AtomicLong forceNanosTotal = new AtomicLong();
    private final long[] typeCounts = new long[256];
    private volatile long bytesWritten;
    private final AtomicLongArray forceBuckets = new AtomicLongArray(ForceTiming.BUCKET_BOUNDS_MICROS.length + 1);
    private volatile long lastForceNanos;
    private final AtomicLong maxForceNanos = new AtomicLong();
    /** nanoTime when the oldest record not yet stable was written; 0 when everything written is stable. */
    private volatile long firstUnstableAt;
    private volatile long lastLagNanos;
    private final AtomicLong maxLagNanos = new AtomicLong();
    /** The last force that moved the stable position; written after its stable mark. */
    private volatile ForceTiming lastTiming;

    /** Writer thread: one record of {@code type} went into a batch. */
    void counted(int type) {
        typeCounts[Math.min(type, 255)]++;
    }

    /** Writer thread: a batch of {@code bytes} went to Chronicle; its records now wait for a force. */
    void wrote(int bytes) {
        bytesWritten += bytes;
        if (firstUnstableAt == 0) {
            firstUnstableAt = System.nanoTime();
        }
    }

    /** A force took {@code nanos}. */
    void forced(long nanos) {
        forces.incrementAndGet();
        forceNanosTotal.addAndGet(nanos);
        lastForceNanos = nanos;
        maxForceNanos.accumulateAndGet(nanos, Math::max);
        forceBuckets.incrementAndGet(ForceTiming.bucket(nanos));
    }

    /** When the oldest record not yet stable was written (nanoTime), 0 if none waits. */
    long firstUnstableAt() {
        return firstUnstableAt;
    }

    /**
     * After a force that ended at {@code end} (nanoTime) and made {@code target} stable, the
     * oldest of whose records had waited since {@code since}: its lag, and the timing the writer
     * logs after the stable mark. Records written while it forced ({@code written > target}) are
     * waiting now.
     */
    void noteTiming(long target, long since, long end, long written, long appended) {
        long lag = since == 0 ? 0 : Math.max(0, end - since);
        lastLagNanos = lag;
        maxLagNanos.accumulateAndGet(lag, Math::max);
        firstUnstableAt = written > target ? end - lastForceNanos : 0;
        lastTiming = new ForceTiming(target, appended, System.currentTimeMillis(), lastForceNanos, lag);
    }

    long forceCount() {
        return forces.get();
    }

    long forceNanosTotal() {
        return forceNanosTotal.get();
    }

    long[] recordsWrittenByType() {
        return typeCounts.clone();
    }

    long bytesWritten() {
        return bytesWritten;
    }

    long[] forceHistogram() {
        long[] h = new long[forceBuckets.length()];
        for (int i = 0; i < h.length; i++) {
            h[i] = forceBuckets.get(i);
        }
        return h;
    }

    long lastForceNanos() {
        return lastForceNanos;
    }

    long maxForceNanos() {
        return maxForceNanos.get();
    }

    long lastStableLagNanos() {
        return lastLagNanos;
    }

    long maxStableLagNanos() {
        return maxLagNanos.get();
    }

    ForceTiming lastTiming() {
        return lastTiming;
    }
}
