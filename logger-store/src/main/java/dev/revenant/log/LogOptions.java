package dev.revenant.log;

import java.util.concurrent.TimeUnit;

/** Settings; the defaults suit production. */
public final class LogOptions {
    private static final long ZERO_AHEAD_DEFAULT =
            "false".equals(System.getProperty("revenant.log.zeroAhead")) ? 0 : 3L << 19;

    AppFingerprint fingerprint = new AppFingerprint("?", "?", System.getProperty("java.vm.version"), "?");
    java.util.concurrent.Callable<AppFingerprint> fingerprintLater;
    int epoch = -1;
    long segmentBytes = 64L << 20;
    long blockSize = 64L << 20;
    int ringCapacity = 1 << 16;
    int inlineBytes = 128;
    int maxBatchBytes = 256 << 10;
    long idleForceNanos = TimeUnit.MILLISECONDS.toNanos(20);
    long periodicForceNanos = TimeUnit.MILLISECONDS.toNanos(200);
    boolean force = true;
    boolean awaitHeader = true;
    long stallAtPosition = -1;
    long reserveStep = 2L << 20;
    long zeroAhead = ZERO_AHEAD_DEFAULT;
    long retryMaxNanos = TimeUnit.SECONDS.toNanos(1);

    public LogOptions fingerprint(AppFingerprint f) {
        this.fingerprint = f;
        this.fingerprintLater = null;
        return this;
    }

    /**
     * The fingerprint, computed by {@link #open} on the calling thread once the writer thread
     * has begun opening the queue: the first use of Chronicle in a JVM takes a while, and
     * hashing the app's class path need not wait for it. What it throws, open throws.
     */
    public LogOptions fingerprintFrom(java.util.concurrent.Callable<AppFingerprint> later) {
        this.fingerprintLater = later;
        return this;
    }

    /**
     * Whether {@link #open} waits until the session header is stable (the default). Without
     * it, open returns as soon as the header is in the ring: the writer thread goes on
     * opening the queue, and a failure there reaches the caller through {@link #failure()},
     * {@link #awaitStable} and {@link #onStable} instead of an exception from open. Only the
     * directory checks, the lock and the read of the previous session's tail stay in open.
     */
    public LogOptions awaitHeader(boolean wait) {
        this.awaitHeader = wait;
        return this;
    }

    /** Epoch to write in this session's records; default: one more than the last session's, 0 for a new log. */
    public LogOptions epoch(int e) {
        this.epoch = e;
        return this;
    }

    /** Size after which the writer starts a new segment file. */
    public LogOptions segmentBytes(long b) {
        this.segmentBytes = b;
        return this;
    }

    /** Chronicle's mapping block size: segment files grow in steps of this. */
    public LogOptions blockSize(long b) {
        this.blockSize = b;
        return this;
    }

    /**
     * Disk blocks reserved for a segment at a time, ahead of what is written (see
     * {@link SegmentSpace}); the writer keeps at least half of this reserved beyond its end.
     */
    public LogOptions reserveStep(long b) {
        this.reserveStep = Math.max(256L << 10, b);
        return this;
    }

    /**
     * How far beyond what Chronicle has written the blocks are reserved by writing them (zeros,
     * or the bytes already there), so that its stores overwrite written blocks instead of
     * filling holes or converting unwritten extents (a journal commit per force on ext4; see
     * {@link SegmentSpace}). Default 1.5 MiB; it should stay well above Chronicle's index
     * arrays (256 KiB each). 0 switches the writing off and reserves with {@code fallocate}
     * instead (Chronicle's POSIX layer, jnr-ffi); so does {@code -Drevenant.log.zeroAhead=false}.
     */
    public LogOptions zeroAhead(long b) {
        this.zeroAhead = Math.max(0, b);
        return this;
    }

    /** Longest wait between two attempts to get room again while the log is paused. */
    public LogOptions retryMax(long time, TimeUnit unit) {
        this.retryMaxNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(10), unit.toNanos(time));
        return this;
    }

    /** Records the ring holds before producers wait (rounded up to a power of two). */
    public LogOptions ringCapacity(int c) {
        this.ringCapacity = Integer.highestOneBit(Math.max(2, c - 1)) << 1;
        return this;
    }

    /**
     * Only for proving tests can fail: the writer never forces yet reports records stable.
     * A writer opened like this lies about durability.
     */
    public LogOptions unsafeSkipForce() {
        this.force = false;
        return this;
    }

    /**
     * Test hook: when the batch holding this position is written, the writer thread stops
     * inside the unfinished Chronicle document, holding Chronicle's write lock, forever — as a
     * writer killed mid-append leaves it.
     */
    public LogOptions testStallInsideAppendAt(long position) {
        this.stallAtPosition = position;
        return this;
    }
}
