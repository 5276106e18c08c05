package dev.revenant.log;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.queue.rollcycles.LargeRollCycles;
import net.openhft.chronicle.wire.DocumentContext;

/**
 * Appends records to a log directory and makes them durable with group commit.
 *
 * <h2>Threads</h2>
 * Any number of threads call {@link #append}. Chronicle appenders are bound to one thread, so
 * appends go into a bounded lock-free ring (multi-producer, one consumer): a producer claims a
 * sequence number with one atomic increment — that number is the record's position, which keeps
 * positions dense and in file order — copies its payload into the slot and publishes it. One
 * writer thread drains the ring in sequence order, writes each drained batch as one Chronicle
 * document, and forces the segment file when someone waits for stability. When the ring is full
 * producers wait for the writer (back-pressure, never an unbounded queue); they never wait for
 * a writer that has failed or closed.
 *
 * <h2>Durability</h2>
 * {@link #awaitStable} and {@link #onStable} complete once the record is forced to disk. One
 * force ({@code fdatasync} of the current segment file — on Linux that writes back the pages
 * dirtied through Chronicle's shared mapping, index pages included) covers every record written
 * before it, so all waiters that arrived before a force are released by it (group commit). After
 * each force the writer appends a small metadata document, the <em>stable mark</em>, naming the
 * highest stable position; it becomes durable with the next force (or an idle force shortly
 * after), and lets a reader tell a torn tail (above the mark) from damage (below it). A new
 * segment's directory entry is fsynced before anything in it counts as stable.
 *
 * <p>Before Chronicle writes into a segment, the blocks for it are reserved ({@link SegmentSpace});
 * a file system that refuses them (full, read-only) <em>pauses</em> the writer rather than failing
 * it: records wait in the ring, nothing new becomes stable, and the writer retries until it has
 * room ({@link #pausedBy}, {@link HealthListener}). Any other I/O error latches: stability never
 * advances again, waiters and listeners fail with that cause, and {@link #append} returns -1.
 *
 * <h2>Sessions</h2>
 * Each {@code open} is a session (one epoch of the process): it takes the directory's writer lock
 * (a second live writer is refused; the lock of a dead one is released by the OS), finds where
 * the log ends, starts a new segment (it never appends to a segment a crashed writer left) and
 * writes a {@link RecordTypes#HEADER} record with the app fingerprint.
 */
public final class LogWriter implements AutoCloseable {
    /** File that holds the OS lock of the live writer and its pid. */
    public static final String LOCK_FILE = "writer.lock";

    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final RollCycle ROLL_CYCLE = LargeRollCycles.LARGE_DAILY;

    /**
     * Told on the writer thread when the log's file system refuses room (full, read-only) and the
     * writer pauses, and when it has room again and goes on; must return quickly. Without a
     * listener the writer says it on stderr itself.
     */
    public interface HealthListener {
        void paused(LogSpaceException cause);

        void resumed(long pausedMillis);

        /** The writer failed for good (a force failed, the writer died): nothing becomes stable any more. */
        default void failed(IOException cause) {}
    }

    /** Told on the writer thread once a position is stable or the writer failed; must return quickly. */
    public interface StableListener {
        void stable(long position);

        default void failed(long position, IOException cause) {}
    }

    private final Path dir;
    private final LogOptions options;
    private final int epoch;
    private final long base;
    /** Final once {@link #open} returns (the fingerprint may be filled in by {@link #start}). */
    private LogHeader header;
    private final FileChannel lockChannel;
    private final FileLock lock;

    // Ring.
    private final int capacity;
    private final int mask;
    private final int maxDocumentBytes;
    private final int maxBatchBytes;
    private final long[] published;
    private final int[] types;
    private final long[] threads;
    private final long[] threadSeqs;
    private final int[] lengths;
    private final byte[] arena;
    private final byte[][] big;
    private final PaddedCounter claim = new PaddedCounter();
    private volatile long consumed;

    // Progress, as positions.
    private volatile long written;
    private volatile long stable;
    private final AtomicLong requested = new AtomicLong(-1);
    private volatile IOException failure;
    private volatile boolean closing;

    private final StableWaiters waiters = new StableWaiters();
    private final Thread writerThread;
    private final Thread syncerThread;
    private final Thread watermarkThread;
    private StableWatermarkFile watermarkFile;
    private final java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);

    // Statistics for tools and live monitoring, all kept off the app's path.
    private final WriterStats stats = new WriterStats();

    private LogWriter(Path dir, LogOptions options, FileChannel lockChannel, FileLock lock, int epoch, long base,
                      LogHeader header) {
        this.dir = dir;
        this.options = options;
        this.lockChannel = lockChannel;
        this.lock = lock;
        this.epoch = epoch;
        this.base = base;
        this.header = header;
        this.capacity = options.ringCapacity;
        this.maxDocumentBytes = (int) Math.min(RecordDescriptor.MAX_PAYLOAD,
                Math.max(options.blockSize, 1L << 20) / 4 - 64);
        this.maxBatchBytes = Math.min(options.maxBatchBytes, maxDocumentBytes);
        this.mask = capacity - 1;
        this.published = new long[capacity];
        java.util.Arrays.fill(published, -1L);
        this.types = new int[capacity];
        this.threads = new long[capacity];
        this.threadSeqs = new long[capacity];
        this.lengths = new int[capacity];
        this.arena = new byte[capacity * options.inlineBytes];
        this.big = new byte[capacity][];
        this.written = base - 1;
        this.stable = base - 1;
        this.room = new SegmentRoom(dir, options, ROLL_CYCLE);
        this.writerThread = new Thread(this::run, "revenant-log-writer");
        this.writerThread.setDaemon(true);
        this.syncerThread = new Thread(this::sync, "revenant-log-syncer");
        this.syncerThread.setDaemon(true);
        this.watermarkThread = new Thread(this::persistWatermarks, "revenant-log-watermark");
        this.watermarkThread.setDaemon(true);
    }

    /** Opens a log directory for appending with default options. */
    public static LogWriter open(Path dir) throws IOException {
        return open(dir, new LogOptions());
    }

    /**
     * Opens (or creates) a log for appending. Refuses a second live writer, a damaged log, and an
     * unusable directory, each with a one-line message.
     */
    public static LogWriter open(Path dir, LogOptions options) throws IOException {
        System.setProperty("chronicle.analytics.disable", "true");
        Path d = LogDirectory.prepareForWriting(dir);
        LogDirectory.keepNativeExtractionInside(d);
        WriterLock locked = WriterLock.acquire(d, d.resolve(LOCK_FILE));
        FileChannel lockChannel = locked.channel();
        FileLock lock = locked.lock();
        try {
            LogEnd end = LogEnd.read(d);
            long previousEnd = end.previousEnd();
            long previousStable = end.previousStable();
            long dropped = end.dropped();
            int lastEpoch = end.lastEpoch();
            int epoch = options.epoch >= 0 ? options.epoch : lastEpoch + 1;
            long base = previousEnd + 1;
            if (previousEnd < 0) {
                base = Math.max(0, Truncation.firstPosition(d));
            }
            LogHeader header = new LogHeader(RecordDescriptor.FORMAT_VERSION, epoch, options.fingerprint,
                    System.currentTimeMillis(), previousEnd, previousStable, dropped);
            LogWriter w = new LogWriter(d, options, lockChannel, lock, epoch, base, header);
            w.start();
            return w;
        } catch (IOException | RuntimeException | Error e) {
            // start() may have closed the writer (and so the lock) already
            try {
                if (lock.isValid()) {
                    lock.release();
                }
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            } finally {
                lockChannel.close();
            }
            throw e;
        }
    }

    private void start() throws IOException {
        watermarkFile = StableWatermarkFile.open(dir);
        writerThread.start();
        watermarkThread.start();
        if (options.fingerprintLater != null) {
            AppFingerprint fp;
            try {
                fp = options.fingerprintLater.call();
            } catch (Exception e) {
                close();
                throw e instanceof IOException io ? io : new IOException("app fingerprint: " + e.getMessage(), e);
            }
            header = new LogHeader(header.formatVersion(), header.epoch(), fp, header.startedAtMillis(),
                    header.previousEnd(), header.previousStable(), header.previousDroppedBytes());
        }
        long pos = append(RecordTypes.HEADER, 0, 0, header.encode());
        if (!options.awaitHeader) {
            return;
        }
        try {
            if (!awaitStable(pos, 60, TimeUnit.SECONDS)) {
                close();
                throw new LogWriterException("log " + dir + ": the writer did not start within 60 s");
            }
        } catch (IOException e) {
            close();
            throw e;
        }
    }

    public Path directory() {
        return dir;
    }

    public int epoch() {
        return epoch;
    }

    /** Position of this session's header record: the first position it wrote. */
    public long sessionStart() {
        return base;
    }

    public LogHeader header() {
        return header;
    }

    /** Highest position forced to disk; everything at or below it survives a power cut. */
    public long stablePosition() {
        return stable;
    }

    /** Highest position handed to Chronicle (in the page cache, maybe not on disk). */
    public long writtenPosition() {
        return written;
    }

    /**
     * Largest payload one record may carry: Chronicle limits one document to a quarter of its
     * mapping block (and at least 1 MiB blocks), and a record never spans documents.
     */
    public int maxPayload() {
        return maxDocumentBytes - RecordDescriptor.OVERHEAD;
    }

    /** Highest position handed out by {@link #append}. */
    public long appendedPosition() {
        return base + claim.get() - 1;
    }

    /** True once {@link #close} was called: appends are refused from then on, which is no failure. */
    public boolean isClosing() {
        return closing;
    }

    /** The latched error, or null while the writer is healthy. */
    public IOException failure() {
        return failure;
    }

    /**
     * Why the writer is paused (its file system refused room), or null while it writes. A pause
     * is not a failure: appends queue in the ring (and wait once it is full), nothing new becomes
     * stable, and the writer tries again with growing intervals until it has room.
     */
    public LogSpaceException pausedBy() {
        return room.pause();
    }

    /** Who hears about pauses and resumptions; replaces the default, which prints on stderr. */
    public void healthListener(HealthListener listener) {
        room.health(listener);
    }

    public long forceCount() {
        return stats.forceCount();
    }

    public long forceNanosTotal() {
        return stats.forceNanosTotal();
    }

    /** Records this session wrote, by type code (index; codes of 255 and more count at 255). A racy copy. */
    public long[] recordsWrittenByType() {
        return stats.recordsWrittenByType();
    }

    /** Bytes of records (headers, payloads, CRCs) this session handed to Chronicle. */
    public long bytesWritten() {
        return stats.bytesWritten();
    }

    /** Forces so far per latency bucket ({@link ForceTiming#BUCKET_BOUNDS_MICROS}, one more for the rest). */
    public long[] forceHistogram() {
        return stats.forceHistogram();
    }

    public long lastForceNanos() {
        return stats.lastForceNanos();
    }

    public long maxForceNanos() {
        return stats.maxForceNanos();
    }

    /** How long the oldest record written but not yet stable has waited; 0 when all written is stable. */
    public long stableLagNanos() {
        long since = stats.firstUnstableAt();
        return since == 0 || stable >= written ? 0 : Math.max(0, System.nanoTime() - since);
    }

    /** Stable lag at the last force that moved the stable position (how long its oldest record waited). */
    public long lastStableLagNanos() {
        return stats.lastStableLagNanos();
    }

    public long maxStableLagNanos() {
        return stats.maxStableLagNanos();
    }

    /** The last force that moved the stable position, or null before the first. */
    public ForceTiming lastForceTiming() {
        return stats.lastTiming();
    }

    public long append(int type, long thread, long threadSeq, byte[] payload) {
        return append(type, thread, threadSeq, payload, 0, payload.length);
    }

    /**
     * Appends a record; returns its position, or -1 if the writer has failed or is closed (see
     * {@link #failure()}) or the payload is larger than {@link #maxPayload()}. Does not wait for the disk; waits for room in the ring only while the
     * writer is alive.
     */
    public long append(int type, long thread, long threadSeq, byte[] payload, int off, int len) {
        if (failure != null || closing || len > maxDocumentBytes - RecordDescriptor.OVERHEAD || len < 0) {
            return -1;
        }
        long s = claim.getAndIncrement();
        if (s - consumed >= capacity && !awaitRoom(s)) {
            return -1;
        }
        int i = (int) (s & mask);
        types[i] = type;
        threads[i] = thread;
        threadSeqs[i] = threadSeq;
        lengths[i] = len;
        if (len <= options.inlineBytes) {
            System.arraycopy(payload, off, arena, i * options.inlineBytes, len);
        } else {
            big[i] = java.util.Arrays.copyOfRange(payload, off, off + len);
        }
        LONGS.setRelease(published, i, s);
        return base + s;
    }

    private boolean awaitRoom(long s) {
        for (int spins = 0; s - consumed >= capacity; spins++) {
            if (failure != null || !writerThread.isAlive() && spins > 1000) {
                // The slot stays unpublished: the writer is gone, nothing will read it.
                return false;
            }
            if (spins < 20) {
                Thread.onSpinWait();
            } else {
                // Park soon: on few cores spinning producers take the CPU the writer needs.
                LockSupport.parkNanos(20_000);
            }
        }
        return true;
    }

    /** Blocks until {@code position} is stable; throws the latched error if the writer failed. */
    public void awaitStable(long position) throws IOException {
        while (!awaitStable(position, 1, TimeUnit.HOURS)) {
            // keep waiting; the writer never gives up silently, it fails or progresses
        }
    }

    /** Like {@link #awaitStable(long)} with a time limit; returns false if it ran out. */
    public boolean awaitStable(long position, long timeout, TimeUnit unit) throws IOException {
        if (stable >= position) {
            return true;
        }
        if (position > appendedPosition()) {
            throw new IllegalArgumentException("position " + position + " was never appended (last "
                    + appendedPosition() + ")");
        }
        request(position);
        long deadline = System.nanoTime() + unit.toNanos(timeout);
        Thread me = Thread.currentThread();
        waiters.sleeping(me);
        try {
            while (stable < position) {
                IOException f = failure;
                if (f != null) {
                    throw new IOException("log " + dir + ": position " + position + " is not stable: " + f.getMessage(), f);
                }
                if (!writerThread.isAlive()) {
                    throw new IOException("log " + dir + " is closed; position " + position + " never became stable");
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                LockSupport.parkNanos(this, Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)));
                if (Thread.interrupted()) {
                    me.interrupt();
                    throw new InterruptedIOException("interrupted while waiting for position " + position);
                }
            }
            return true;
        } finally {
            waiters.awake(me);
        }
    }

    /**
     * Calls {@code listener} on the writer thread once {@code position} is stable (at once if it
     * already is), or with the cause if the writer fails first. Never blocks.
     */
    public void onStable(long position, StableListener listener) {
        if (stable >= position) {
            listener.stable(position);
            return;
        }
        waiters.listen(position, listener);
        request(position);
        IOException f = failure;
        if (f != null || !writerThread.isAlive()) {
            waiters.fail(f != null ? f : new IOException("log " + dir + " is closed"));
        }
    }

    /**
     * Someone waits for {@code position}: the writer forces as soon as it has written it (the
     * syncer, which looks every millisecond, takes over if the writer is busy).
     */
    private void request(long position) {
        requested.accumulateAndGet(position, Math::max);
        LockSupport.unpark(writerThread);
    }

    /** Flushes everything appended, forces it, and releases the directory. */
    @Override
    public void close() throws IOException {
        closing = true;
        LockSupport.unpark(writerThread);
        try {
            writerThread.join(TimeUnit.SECONDS.toMillis(30));
            syncerThread.join(TimeUnit.SECONDS.toMillis(30));
            LockSupport.unpark(watermarkThread);
            watermarkThread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            if (lock.isValid()) {
                lock.release();
            }
        } finally {
            lockChannel.close();
        }
        IOException f = failure;
        if (f != null && !(f instanceof ClosedLogException)) {
            throw new IOException("log " + dir + " closed after a failure: " + f.getMessage(), f);
        }
    }

    /**
     * Background thread: copies the stable watermark to {@link StableWatermarkFile} every 50 ms
     * when it moved, and once more after the writer stopped. Kept off the writer thread so that
     * its extra fsync never delays a group commit.
     */
    private void persistWatermarks() {
        boolean told = false;
        try (StableWatermarkFile f = watermarkFile) {
            while (writerThread.isAlive()) {
                LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(50));
                if (failure == null) {
                    try {
                        f.persist(stable, options.force);
                    } catch (IOException e) {
                        // A full or read-only file system: the writer says so; try again later.
                        if (!told && room.pause() == null) {
                            System.err.println("revenant: cannot persist the stable watermark in " + dir + ": " + e);
                        }
                        told = true;
                    }
                }
            }
            if (!(failure != null && !(failure instanceof ClosedLogException))) {
                f.persist(stable, options.force);
            }
        } catch (IOException | RuntimeException e) {
            // The log itself stays correct; only damage detection below this point weakens.
            if (!told) {
                System.err.println("revenant: cannot persist the stable watermark in " + dir + ": " + e);
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Writer thread

    private SingleChronicleQueue queue;
    private ExcerptAppender appender;
    private volatile FileChannel segment;
    private int segmentCycle;
    private byte[] scratch = new byte[1024];
    private final java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    private volatile long lastForceAt;
    private FileChannel retired;
    /** Stable position the syncer asks the writer to log as a mark; the last one logged. */
    private volatile long markRequested = -1;
    private volatile long markWritten = -1;
    private volatile boolean writerDone;
    private final SegmentRoom room;

    /** Bytes of reserved space filled with zeros ahead of Chronicle, all segments (for tests). */
    long zeroedBytes() {
        return room.zeroedBytes();
    }

    private void run() {
        try {
            openQueue();
            syncerThread.start();
            loop();
            synchronized (this) {
                if (failure == null) {
                    failure = new ClosedLogException("log " + dir + " is closed");
                }
            }
        } catch (Throwable t) {
            latch(t);
        } finally {
            writerDone = true;
            LockSupport.unpark(syncerThread);
            waiters.fail(failure);
            waiters.wakeSleepers();
            closeQueue();
        }
    }

    private void latch(Throwable t) {
        IOException f = t instanceof IOException io ? io : new IOException("log writer failed: " + t, t);
        boolean first;
        synchronized (this) {
            first = failure == null || failure instanceof ClosedLogException;
            if (first) {
                failure = f;
            }
        }
        HealthListener h = room.health();
        if (first && h != null && !closing) {
            try {
                h.failed(f);
            } catch (Throwable ignored) {
                // a listener's bug must not hide the failure
            }
        }
    }

    /**
     * Test hook, never for production: {@code REVENANT_TEST_DELAY_QUEUE_OPEN=ms} makes the writer
     * thread wait that long before it opens the queue, so that a test can show what an app that
     * already runs does while its log is still opening.
     */
    private static final long DELAY_QUEUE_OPEN = parseStall(System.getenv("REVENANT_TEST_DELAY_QUEUE_OPEN"));

    private void openQueue() throws IOException {
        if (DELAY_QUEUE_OPEN > 0) {
            // sleep, not park: a waiter's unpark would end a park at once
            try {
                Thread.sleep(DELAY_QUEUE_OPEN);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        SingleChronicleQueue probe = SingleChronicleQueueBuilder.binary(dir).rollCycle(ROLL_CYCLE)
                .blockSize(options.blockSize).syncMode(SyncMode.NONE).timeoutMS(2_000)
                .timeProvider(() -> (long) room.cycle() * ROLL_CYCLE.lengthInMillis())
                .build();
        queue = probe;
        room.begin(queue.lastCycle(), dir.resolve("metadata.cq4t"));
        appender = queue.createAppender();
        LogDirectory.restrictFile(dir.resolve("metadata.cq4t"));
        try (FileChannel meta = FileChannel.open(dir.resolve("metadata.cq4t"), StandardOpenOption.WRITE)) {
            meta.force(true);
        } catch (java.nio.file.NoSuchFileException ignored) {
            // older layouts keep no metadata file
        }
    }

    /**
     * The writer thread: drains the ring into Chronicle and writes the stable marks the syncer
     * asks for. It never waits for the disk, except at a segment switch and at close.
     */
    private void loop() throws IOException {
        long next = 0;
        long idleSince = System.nanoTime();
        int idleSpins = 0;
        long retryNanos = 0;
        while (failure == null) {
            int n = drain(next);
            long now = System.nanoTime();
            if (n < 0) {
                // Paused: what is written may still be forced (and its waiters released); what is
                // in the ring waits for room. Try again after a growing interval.
                long want = requested.get();
                if (want > stable && written > stable) {
                    forceWritten(segment, written, true);
                }
                if (closing) {
                    finalForce();
                    return;
                }
                retryNanos = Math.min(options.retryMaxNanos, Math.max(TimeUnit.MILLISECONDS.toNanos(20), retryNanos * 2));
                LockSupport.parkNanos(this, retryNanos);
                continue;
            }
            retryNanos = 0;
            long mark = markRequested;
            if (mark > markWritten) {
                writeStableMark(mark);
                markWritten = mark;
            }
            long want = requested.get();
            if (want > stable && written >= want) {
                // Someone waits for what is written: force it here rather than wake the syncer.
                forceWritten(segment, written, true);
            }
            if (n > 0) {
                next += n;
                consumed = next;
                idleSpins = 0;
                idleSince = now;
                continue;
            }
            // On close, stop once every claimed slot was written — or once nothing arrived for a
            // second (a producer that claimed a slot and then gave up leaves a hole forever).
            if (closing && (next == claim.get() && drainSettled(next) || now - idleSince > 1_000_000_000L)) {
                finalForce();
                return;
            }
            if (++idleSpins < 10) {
                Thread.onSpinWait();
                continue;
            }
            // Nobody waits for what is in the ring: let it gather for up to a millisecond and write it
            // as one document. Someone who waits (awaitStable, onStable) wakes us at once, and so do
            // a stable mark and close. Waking the writer on every append, or polling in short parks,
            // cost the app a large share of 2 cores in wake-ups and one document per record.
            LockSupport.parkNanos(this, 1_000_000);
        }
    }

    /** At close: everything written is forced, then the last mark is written and forced too. */
    private void finalForce() throws IOException {
        long target = written;
        if (target > stable || markWritten < target) {
            long since = stats.firstUnstableAt();
            forceFile(segment);
            advanceStable(target);
            noteTiming(target, since);
            writeStableMark(target);
            markWritten = target;
            forceFile(segment);
        }
    }

    /**
     * The syncer thread: forces the current segment when someone waits for stability (or every
     * {@code periodicForceNanos} when nobody does), publishes the new stable position, releases
     * waiters, and asks the writer to log a stable mark. Running apart from the writer, a force of
     * many milliseconds never stops the ring from draining.
     */
    /**
     * Test hook for crash tests, never for production: with {@code REVENANT_TEST_STALL_FORCE=N} in
     * the environment, the syncer stops for good just before the N-th force someone waits for —
     * records written, not yet durable, their outputs held — and says so on stderr, so that a test
     * can kill the process inside a group commit.
     */
    private static final long STALL_BEFORE_FORCE = parseStall(System.getenv("REVENANT_TEST_STALL_FORCE"));
    private long wantedForces;
    private final java.util.concurrent.locks.ReentrantLock forceLock = new java.util.concurrent.locks.ReentrantLock();

    private static long parseStall(String v) {
        try {
            return v == null ? -1 : Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private void stallForTest(long target) {
        System.err.println("revenant-test: stalled before force " + wantedForces + " (written up to position " + target
                + ", stable " + stable + ")");
        System.err.flush();
        while (true) {
            LockSupport.park(this);
        }
    }

    private void sync() {
        long markForced = -1;
        try {
            while (failure == null) {
                long target = written;      // read before the segment: the writer sets it after
                FileChannel ch = segment;
                long now = System.nanoTime();
                boolean wanted = requested.get() > stable || waiters.anyListener();
                if (target > stable && (wanted || now - lastForceAt > options.periodicForceNanos)) {
                    if (requested.get() > target) {
                        // The writer is about to hand over what is awaited: give it a moment, so
                        // one force covers it.
                        for (int i = 0; i < 50 && written < requested.get() && failure == null; i++) {
                            Thread.onSpinWait();
                        }
                        target = written;
                        ch = segment;
                    }
                    if (forceWritten(ch, target, wanted)) {
                        LockSupport.unpark(writerThread);
                    } else {
                        LockSupport.parkNanos(this, 100_000); // the writer is forcing
                    }
                    continue;
                }
                long mark = markWritten;
                if (mark > markForced && target == stable && now - lastForceAt > options.idleForceNanos) {
                    // Make the last stable mark durable while nothing else happens.
                    forceFile(ch);
                    markForced = mark;
                    continue;
                }
                if (writerDone) {
                    return;
                }
                LockSupport.parkNanos(this, 1_000_000);
            }
        } catch (Throwable t) {
            latch(t);
            LockSupport.unpark(writerThread);
        } finally {
            waiters.fail(failure == null ? new ClosedLogException("log " + dir + " is closed") : failure);
            waiters.wakeSleepers();
        }
    }

    /**
     * Forces the segment up to {@code target} (everything written), publishes it as stable, asks
     * for a stable mark and completes the waiters and listeners it covers. Either thread may call
     * it: the writer when someone waits for what it just wrote (no hand-over to the syncer on the
     * request path), the syncer otherwise. Returns false, doing nothing, if the other one is
     * forcing at this moment.
     */
    private boolean forceWritten(FileChannel ch, long target, boolean wanted) throws IOException {
        if (!forceLock.tryLock()) {
            return false;
        }
        try {
            if (target <= stable) {
                return true;
            }
            if (wanted && ++wantedForces == STALL_BEFORE_FORCE) {
                stallForTest(target);
            }
            long since = stats.firstUnstableAt();
            forceFile(ch);
            advanceStable(target);
            noteTiming(target, since);
            markRequested = target;
            waiters.stable(stable);
            return true;
        } finally {
            forceLock.unlock();
        }
    }

    /** After a force that made {@code target} stable: see {@link WriterStats#noteTiming}. */
    private void noteTiming(long target, long since) {
        stats.noteTiming(target, since, lastForceAt, written, appendedPosition());
    }

    private synchronized void advanceStable(long target) {
        if (target > stable) {
            stable = target;
        }
    }

    /** True when no producer that claimed below {@code next} is still filling its slot. */
    private boolean drainSettled(long next) {
        return (long) LONGS.getAcquire(published, (int) (next & mask)) != next;
    }

    /** Writes the published records starting at sequence {@code next} as one document; returns how many. */
    private int drain(long next) throws IOException {
        int n = 0;
        int bytes = 0;
        while (n < capacity) {
            long s = next + n;
            if ((long) LONGS.getAcquire(published, (int) (s & mask)) != s) {
                break;
            }
            int size = RecordDescriptor.OVERHEAD + lengths[(int) (s & mask)];
            if (n > 0 && bytes + size > maxBatchBytes) {
                break;
            }
            bytes += size;
            n++;
        }
        if (n == 0) {
            return 0;
        }
        // Room first: nothing is encoded (and no large payload let go) before the file has
        // blocks for it, so a refused reservation leaves the ring as it was.
        if (!room.makeRoom(bytes + 64)) {
            return -1;
        }
        if (bytes > scratch.length) {
            scratch = new byte[Math.max(bytes, scratch.length * 2)];
        }
        int at = 0;
        boolean stall = false;
        for (int k = 0; k < n; k++) {
            long s = next + k;
            int i = (int) (s & mask);
            int len = lengths[i];
            byte[] src;
            int srcOff;
            if (len <= options.inlineBytes) {
                src = arena;
                srcOff = i * options.inlineBytes;
            } else {
                src = big[i];
                srcOff = 0;
                big[i] = null;
            }
            at += RecordDescriptor.encode(scratch, at, types[i], 0, epoch, base + s, threads[i], threadSeqs[i],
                    src, srcOff, len, crc);
            stats.counted(types[i]);
            stall |= base + s == options.stallAtPosition;
        }
        long end;
        try (DocumentContext dc = appender.writingDocument()) {
            Bytes<?> out = dc.wire().bytes();
            out.write(scratch, 0, at);
            end = out.writePosition();
            if (stall) {
                stallForever();
            }
        }
        if (segment == null || appender.cycle() != segmentCycle) {
            switchSegment();
        }
        room.wrote(at + 4, end);
        written = base + next + n - 1; // after the segment: the syncer reads them in the other order
        stats.wrote(at);
        return n;
    }

    private void stallForever() {
        System.err.println("revenant-test: writer stalled inside an unfinished document (test hook)");
        while (true) {
            LockSupport.park(this);
        }
    }

    /**
     * The appender moved to a new file: make the old one and the new name durable before anything
     * in the new one can count as stable. The old channel stays open until the next switch, as
     * the syncer may still be forcing it.
     */
    private void switchSegment() throws IOException {
        FileChannel old = segment;
        if (old != null && options.force) {
            old.force(false);
        }
        Path file = appender.currentFile().toPath();
        LogDirectory.restrictFile(file);
        FileChannel fresh = FileChannel.open(file, StandardOpenOption.WRITE);
        if (options.force) {
            LogDirectory.fsyncDirectory(dir);
        }
        if (retired != null) {
            retired.close();
        }
        retired = old;
        segmentCycle = appender.cycle();
        segment = fresh;
        room.switched();
    }

    private void forceFile(FileChannel ch) throws IOException {
        long t0 = System.nanoTime();
        if (options.force) {
            ch.force(false);
        }
        long t1 = System.nanoTime();
        lastForceAt = t1;
        stats.forced(t1 - t0);
    }

    private void writeStableMark(long position) {
        if (!room.hasRoom(128)) {
            return; // no room reserved for it (paused): the next mark will say as much
        }
        try (DocumentContext dc = appender.writingDocument(true)) {
            Bytes<?> out = dc.wire().bytes();
            out.writeInt(SegmentScanner.STABLE_MARK_MAGIC);
            out.writeLong(position);
            out.writeInt(SegmentScanner.stableMarkCheck(position));
            room.wroteUpTo(out.writePosition());
        }
        // Its own document after the mark, so a reader that knows only 16-byte marks still finds them.
        ForceTiming t = stats.lastTiming();
        if (t != null && t.stablePosition() == position) {
            try (DocumentContext dc = appender.writingDocument(true)) {
                Bytes<?> out = dc.wire().bytes();
                out.writeInt(SegmentScanner.FORCE_TIMING_MAGIC);
                out.writeLong(t.stablePosition());
                out.writeLong(t.appendedPosition());
                out.writeLong(t.wallMillis());
                out.writeLong(t.forceNanos());
                out.writeLong(t.lagNanos());
                out.writeInt(SegmentScanner.forceTimingCheck(t.stablePosition(), t.appendedPosition(), t.wallMillis(),
                        t.forceNanos(), t.lagNanos()));
                // the room must know everything Chronicle wrote: zeros go only beyond it
                room.wroteUpTo(out.writePosition());
            }
        }
    }

    private void closeQueue() {
        try {
            syncerThread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            room.close();
            if (segment != null) {
                segment.close();
            }
            if (retired != null) {
                retired.close();
            }
        } catch (IOException ignored) {
            // closing after the last force; nothing more to lose
        }
        try {
            if (appender != null) {
                appender.close();
            }
            if (queue != null) {
                queue.close();
            }
        } catch (Throwable ignored) {
            // Chronicle's close must not hide the real outcome
        }
    }

    static {
        // Little-endian framing is assumed by RecordDescriptor; Chronicle writes native order.
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new ExceptionInInitializerError("Revenant's log needs a little-endian machine");
        }
    }
}
