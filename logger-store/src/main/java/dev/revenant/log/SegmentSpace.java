package dev.revenant.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import net.openhft.posix.PosixAPI;

/**
 * Real disk blocks for a segment file, reserved ahead of what Chronicle writes into it.
 *
 * <p>Chronicle maps segment files sparsely (a 64 MiB file may hold a few kilobytes). A store into
 * a mapped page that has no block behind it asks the file system for one at that moment; when the
 * file system is full (or read-only) the kernel answers with SIGBUS, which the JVM turns into an
 * {@code InternalError} thrown at some later instruction — after the writer may already have
 * reported the record stable. So the writer never lets Chronicle write into a hole: it reserves
 * the range first, and a refused reservation is an ordinary error ({@link LogSpaceException}),
 * raised before a single byte went into the page.
 *
 * <h2>Two ways to reserve</h2>
 * <ul>
 *   <li><b>Written</b> (the default, {@link #WRITTEN}): the range is filled with real zeros, one
 *   {@code pwrite} per 4 KiB page, through a {@code FileChannel}. A buffered write gets its blocks
 *   (or, with delayed allocation, its reservation) before it returns, so a full or read-only file
 *   system answers {@code write} with an error at once: the same guarantee as {@code fallocate}.
 *   Zeros are what a hole reads as, so readers see the same file.</li>
 *   <li><b>Allocated</b> ({@link #ALLOCATED}, when zero-filling is switched off): {@code fallocate}
 *   through Chronicle's POSIX layer; where that is not available (no native access, a file system
 *   without it) nothing is reserved and the writer behaves as before ({@link #supported}).</li>
 * </ul>
 * Why written is the default: {@code fallocate} leaves <em>unwritten</em> extents, and a page
 * Chronicle writes into one turns part of it into a written extent when it is written back; on
 * ext4 that is a journal transaction, so every force that reaches a new page commits the journal.
 * A block already written is just overwritten. So the allocated way needs zeros written a little
 * ahead of Chronicle anyway ({@link #zeroAhead}; measured on the e2e machine, ext4, Linux 6.18,
 * virtio disk: a mapped writer's {@code fdatasync} falls from a median of ~112 µs to ~90 µs), and
 * once the zeros are written the {@code fallocate} before them adds nothing. It costs start-up,
 * though: the POSIX layer is jnr-ffi, whose first use (~300 classes, bindings generated at run
 * time, 60–100 ms of a two-core machine) lay on the path to the log's first force, which every
 * reply and every server's bind waits for.
 *
 * <p>The zeros go in one page per {@code pwrite}, never in bigger writes: a big buffered write
 * makes the page cache hold that range in large folios, and a store through the mapping then
 * dirties the whole folio, so every force wrote back up to 2 MiB (measured: a force of ~420 µs).
 * Below the file's length a page is read first and its own bytes are written back: a hole reads
 * as zeros, and what Chronicle did write (its metadata file, opened with data; the index arrays it
 * may place just beyond a segment's first document) stays as it is. That is sound because nothing
 * else writes the file meanwhile: reservation runs on the writer thread, the only thread that
 * appends, between two of Chronicle's documents, or before Chronicle has an appender.
 */
final class SegmentSpace implements AutoCloseable {
    /** Reserve by writing zeros (or the bytes already there). */
    static final boolean WRITTEN = true;
    /** Reserve with {@code fallocate}. */
    static final boolean ALLOCATED = false;

    private static final int O_WRONLY = 1;
    private static final int O_CREAT = 0100;
    private static final int ENOSPC = 28;
    private static final int EDQUOT = 122;
    private static final int EROFS = 30;
    private static final int EOPNOTSUPP = 95;
    private static final int PAGE = 4096;
    /** A written reservation grows by this much at least (bounded bursts of dirty pages). */
    private static final long WRITTEN_STEP = 256L << 10;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(PAGE).asReadOnlyBuffer();

    /**
     * {@code -Drevenant.log.reserve=false} switches reservation off: only for showing what the
     * log does without it (the disk-full test's spike).
     */
    private static final boolean OFF = "false".equals(System.getProperty("revenant.log.reserve"));
    /** Set once {@code fallocate} turned out not to work here; allocated reservation stops then. */
    private static volatile boolean noFallocate;
    /** Set once the POSIX layer is built ({@link #buildPosixLater}): new reservations allocate then. */
    private static volatile boolean posixReady;
    private static final java.util.concurrent.atomic.AtomicBoolean POSIX_LOADING =
            new java.util.concurrent.atomic.AtomicBoolean();

    private final Path file;
    private final String name;
    /** Reserving by writing (until the POSIX layer is there), or by {@code fallocate}. */
    private boolean written;
    /** The POSIX descriptor (allocated), or -1. */
    private int fd;
    /** Positional writes: the reservation itself (written) or the zeros ahead (allocated). */
    private FileChannel channel;
    private long step;
    /** The step once allocated. */
    private final long allocatedStep;
    /** Created by us (a segment), not opened with data: may go on allocated. */
    private boolean created;
    /** Bytes from the start of the file known to have blocks. */
    private long reservedTo;
    /** Bytes from the start of the file filled with zeros by us (page aligned); beyond: unwritten. */
    private long zeroedTo;
    private boolean zeroing = true;

    private SegmentSpace(Path file, String name, boolean written, int fd, long step) {
        this.file = file;
        this.name = name;
        this.written = written;
        this.fd = fd;
        this.allocatedStep = step;
        this.step = written ? Math.min(step, WRITTEN_STEP) : step;
    }

    /**
     * Builds the POSIX layer on a thread of its own, {@code delayMillis} after the call (once per
     * JVM): the writer calls it once its first segment is in use, so jnr-ffi's first use stays off
     * the path to the log's first force and away from the app's first requests. From then on new
     * reservations use {@code fallocate} again.
     */
    static void buildPosixLater(long delayMillis) {
        if (OFF || !POSIX_LOADING.compareAndSet(false, true)) {
            return;
        }
        Thread t = new Thread(() -> {
            try {
                Thread.sleep(delayMillis);
                buildPosixNow();
            } catch (Throwable ignored) {
                // reservations go on by writing
            }
        }, "revenant-log-posix");
        t.setDaemon(true);
        t.start();
    }

    /** Chronicle's POSIX layer, built on first use (jnr-ffi); null if it has none. */
    private static final class Posix {
        static final PosixAPI API = load();

        private static PosixAPI load() {
            try {
                PosixAPI p = PosixAPI.posix();
                return p.getClass().getName().contains("NoOp") ? null : p;
            } catch (Throwable t) {
                return null;
            }
        }
    }

    /**
     * False when space cannot be reserved here ({@code written}: by writing until the POSIX layer
     * is built, then by {@code fallocate}; otherwise by {@code fallocate} only); the log then runs
     * without.
     */
    static boolean supported(boolean written) {
        return !OFF && (written || (!noFallocate && Posix.API != null));
    }

    /**
     * Creates {@code file} (it must not exist) with {@code bytes} of real blocks. {@code written}
     * (zero-filling on): by writing while the POSIX layer is not built, by {@code fallocate} with
     * a channel for {@link #zeroAhead} once it is; otherwise by {@code fallocate} alone. Returns
     * null if reservation is not supported (nothing is created then).
     */
    static SegmentSpace create(Path file, String name, long bytes, long step, boolean written) throws IOException {
        if (!supported(written)) {
            return null;
        }
        SegmentSpace s;
        if (written && !posixReady) {
            s = new SegmentSpace(file, name, true, -1, step);
            s.channel = openChannel(file, name, true);
            s.created = true;
        } else {
            int fd = Posix.API.open(file.toString(), O_WRONLY | O_CREAT, 0600);
            if (fd < 0) {
                throw error("cannot create " + name, Posix.API.lastError(), file);
            }
            s = new SegmentSpace(file, name, false, fd, step);
        }
        try {
            s.reserve(bytes);
            if (written && !s.written && !noFallocate) {
                // Opened now, by the name it has now: Chronicle renames the file into place.
                s.channel = openChannel(file, name, false);
            } else if (!s.written) {
                s.zeroing = false;
            }
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        if (!s.written && noFallocate) {
            s.close();
            return null;
        }
        return s;
    }

    /**
     * Opens an existing file whose first {@code reserved} bytes are known to have blocks. Written,
     * the bytes beyond are reserved by writing back what they hold: only while nobody else writes
     * the file.
     */
    static SegmentSpace open(Path file, long reserved, long step, boolean written) throws IOException {
        if (!supported(written)) {
            return null;
        }
        String name = file.getFileName().toString();
        SegmentSpace s;
        if (written) {
            s = new SegmentSpace(file, name, true, -1, step);
            s.channel = openChannel(file, name, false);
        } else {
            int fd = Posix.API.open(file.toString(), O_WRONLY, 0);
            if (fd < 0) {
                throw error("cannot open " + name, Posix.API.lastError(), file);
            }
            s = new SegmentSpace(file, name, false, fd, step);
        }
        s.reservedTo = reserved;
        s.zeroedTo = reserved;
        s.zeroing = false;
        return s;
    }

    private static FileChannel openChannel(Path file, String name, boolean create) throws IOException {
        try {
            if (!create) {
                return FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            }
            FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE,
                    StandardOpenOption.CREATE);
            try {
                LogDirectory.restrictFile(file);
            } catch (RuntimeException e) {
                ch.close();
                throw e;
            }
            return ch;
        } catch (IOException e) {
            throw translate((create ? "cannot create " : "cannot open ") + name, e, file);
        }
    }

    /** Reserves blocks for every byte below {@code end} (and up to the next step beyond it). */
    void ensure(long end) throws IOException {
        if (end > reservedTo && written && created && posixReady) {
            allocateFromNowOn();
        }
        if (end > reservedTo && (written || !noFallocate)) {
            reserve((end + step - 1) / step * step);
        }
    }

    /**
     * A segment created while reservations were written goes on with {@code fallocate} once the
     * POSIX layer is there: written blocks for every page cost the force that writes them back a
     * block allocation (measured: KvServer under load at ~0.4x of its no-agent throughput
     * instead of ~0.5x). What is reserved so far is zeros, so zero-filling goes on from there.
     */
    private void allocateFromNowOn() {
        try {
            Path now = file.resolveSibling(name); // Chronicle renames the precreated file into place
            Path at = Files.exists(now) ? now : file;
            int f = Posix.API.open(at.toString(), O_WRONLY, 0);
            if (f < 0) {
                return; // stays written
            }
            fd = f;
            written = false;
            step = allocatedStep;
            zeroing = true;
        } catch (Throwable ignored) {
            // stays written
        }
    }

    private void reserve(long to) throws IOException {
        long from = reservedTo;
        if (to <= from) {
            return;
        }
        if (written) {
            reserveByWriting(from, to);
            return;
        }
        int rc = Posix.API.fallocate(fd, 0, from, to - from);
        if (rc != 0) {
            int errno = rc > 0 ? rc : Posix.API.lastError();
            if (errno == EOPNOTSUPP) {
                noFallocate = true;
                return;
            }
            throw error("cannot reserve " + (to - from) + " bytes at offset " + from + " of " + name,
                    errno, file);
        }
        reservedTo = to;
    }

    /**
     * Writes {@code [from, to)} page by page: zeros beyond the file's end, the bytes it holds below
     * it (a last partial page only up to the end, so the length stays). {@code reservedTo} moves
     * with every page, so a refusal half-way keeps what did go in.
     */
    private void reserveByWriting(long from, long to) throws IOException {
        ByteBuffer page = null;
        try {
            long size = channel.size();
            for (long p = from; p < to; p += PAGE) {
                int len = (int) Math.min(PAGE, to - p);
                ByteBuffer b;
                if (p < size) {
                    b = page == null ? (page = ByteBuffer.allocate(PAGE)) : page;
                    // never past the end: the file keeps its length (its last block is one of ours now)
                    b.clear().limit((int) Math.min(len, size - p));
                    while (b.hasRemaining() && channel.read(b, p + b.position()) >= 0) {
                        // read what the file holds there
                    }
                    b.flip(); // written back: exactly what was read
                } else {
                    b = ZEROS.duplicate();
                    b.limit(len);
                }
                while (b.hasRemaining()) {
                    channel.write(b, p + b.position());
                }
                reservedTo = p + len;
                zeroedTo = reservedTo;
            }
        } catch (IOException e) {
            throw translate("cannot reserve " + (to - from) + " bytes at offset " + from + " of " + name, e, file);
        }
    }

    /** Builds the POSIX layer on this thread; true if {@code fallocate} is at hand from now on. */
    static boolean buildPosixNow() {
        try {
            PosixAPI p = Posix.API;
            if (p != null && p.getpid() > 0) {
                posixReady = true;
            }
        } catch (Throwable ignored) {
            // reservations go on by writing
        }
        return posixReady;
    }

    /** Tests only: as if the POSIX layer were (not) built yet. */
    static void posixReadyForTest(boolean ready) {
        posixReady = ready;
    }

    /** Whether this file's reservations are written (true) or allocated (false) now. */
    boolean writing() {
        return written;
    }

    /** Whether the POSIX layer has been built for {@code fallocate}. */
    static boolean posixReady() {
        return posixReady;
    }

    long reservedTo() {
        return reservedTo;
    }

    long zeroedTo() {
        return zeroedTo;
    }

    /**
     * Allocated reservations only (a written one is zeros already): writes zeros into the reserved
     * blocks from {@code from} (rounded up to a page; never below what was zeroed before) to
     * {@code to} (rounded down to a page, at most what is reserved). The caller guarantees that
     * nothing has been written at or beyond {@code from} and that nothing will be written there
     * while this runs: the writer thread calls it, before it hands Chronicle the next document,
     * with {@code from} beyond the end of everything Chronicle wrote. Best effort: an error stops
     * zeroing for this file (the blocks stay reserved).
     */
    void zeroAhead(long from, long to) {
        if (!zeroing || written || noFallocate || channel == null) {
            return;
        }
        long start = Math.max(zeroedTo, (from + PAGE - 1) & -PAGE);
        long end = Math.min(to, reservedTo) & -PAGE;
        if (end <= start) {
            return;
        }
        try {
            ByteBuffer z = ZEROS.duplicate();
            for (long p = start; p < end; p += PAGE) {
                z.clear();
                while (z.hasRemaining()) {
                    channel.write(z, p + z.position());
                }
            }
            zeroedTo = end;
        } catch (IOException | RuntimeException e) {
            zeroing = false;
        }
    }

    /**
     * The JDK reports a refused write as an {@code IOException} whose message is the C library's
     * text for the errno; the usual ones become a {@link LogSpaceException} with that errno.
     */
    private static IOException translate(String what, IOException e, Path file) {
        String m = String.valueOf(e.getMessage());
        int errno = m.contains("No space left") ? ENOSPC
                : m.contains("quota") ? EDQUOT
                : m.contains("Read-only file system") ? EROFS
                : 0;
        if (errno == 0) {
            return new LogSpaceException(what + ": " + m, 0, file.getParent());
        }
        return error(what, errno, file);
    }

    private static IOException error(String what, int errno, Path file) {
        String why = switch (errno) {
            case ENOSPC -> "no space left on device";
            case EDQUOT -> "disk quota exceeded";
            case EROFS -> "read-only file system";
            default -> {
                String s;
                try {
                    s = Posix.API.strerror(errno);
                } catch (Throwable t) {
                    s = null;
                }
                yield s == null ? "errno " + errno : s + " (errno " + errno + ")";
            }
        };
        return new LogSpaceException(what + ": " + why, errno, file.getParent());
    }

    @Override
    public void close() {
        if (fd >= 0) {
            Posix.API.close(fd);
        }
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // only reservation bytes went through it; nothing to lose
            }
        }
    }
}
