package dev.revenant.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
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
 * reported the record stable. So the writer never lets Chronicle write into a hole: it calls
 * {@code fallocate} for the range first, and a failed {@code fallocate} is an ordinary error with
 * an errno ({@link LogSpaceException}), raised before a single byte went into the page.
 *
 * <p>Where {@code fallocate} is not available (no native access, a file system without it) the
 * space is not reserved and the writer behaves as before; {@link #supported()} says which.
 *
 * <h2>Zeros ahead of the writer</h2>
 * {@code fallocate} leaves <em>unwritten</em> extents: a page Chronicle writes into one of them
 * turns part of the extent into a written one when it is written back, and on ext4 that is a
 * journal transaction, so every force that reaches a new page commits the journal. A block
 * already written is just overwritten, with no journal commit. So the writer also fills the
 * reserved space with real zeros a little ahead of Chronicle ({@link #zeroAhead}); those blocks
 * become written extents with the next force (one journal commit per chunk instead of one per
 * new page). Measured on the e2e machine (ext4, Linux 6.18, virtio disk): a mapped writer's
 * {@code fdatasync} falls from a median of ~112 µs to ~90 µs, that of a raw write + fdatasync.
 *
 * <p>The zeros go in with one {@code pwrite} per 4 KiB page, never in bigger writes: a big
 * buffered write makes the page cache hold that range in large folios, and a store through
 * the mapping then dirties the whole folio, so every force wrote back up to 2 MiB (measured: a
 * force of ~420 µs). Zeros are only ever written where Chronicle has not written (beyond the
 * end of its last document, on the writer thread, the only thread that appends), and they are
 * what a hole or an unwritten extent reads as, so readers see the same file. Zeroing is a
 * speed-up only: if it fails, it stops for that segment and the reservation still holds.
 */
final class SegmentSpace implements AutoCloseable {
    private static final int O_WRONLY = 1;
    private static final int O_CREAT = 0100;
    private static final int ENOSPC = 28;
    private static final int EDQUOT = 122;
    private static final int EROFS = 30;
    private static final int EOPNOTSUPP = 95;

    private static final PosixAPI POSIX = loadPosix();
    /**
     * {@code -Drevenant.log.reserve=false} switches reservation off: only for showing what the
     * log does without it (the disk-full test's spike).
     */
    private static volatile boolean unsupported = POSIX == null
            || "false".equals(System.getProperty("revenant.log.reserve"));

    private final Path file;
    private final String name;
    private final int fd;
    private final long step;
    /** Bytes from the start of the file known to have blocks. */
    private long reservedTo;
    /** Bytes from the start of the file filled with zeros by us (page aligned); beyond: unwritten. */
    private long zeroedTo;
    private FileChannel zeroChannel;
    private boolean zeroing = true;
    private static final int PAGE = 4096;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(PAGE).asReadOnlyBuffer();

    private SegmentSpace(Path file, String name, int fd, long step) {
        this.file = file;
        this.name = name;
        this.fd = fd;
        this.step = step;
    }

    private static PosixAPI loadPosix() {
        try {
            PosixAPI p = PosixAPI.posix();
            return p.getClass().getName().contains("NoOp") ? null : p;
        } catch (Throwable t) {
            return null;
        }
    }

    /** False when space cannot be reserved here; the log then runs without preallocation. */
    static boolean supported() {
        return !unsupported;
    }

    /**
     * Creates {@code file} (it must not exist) with {@code bytes} of real blocks. With
     * {@code zeros}, {@link #zeroAhead} may later fill reserved blocks with zeros. Returns null
     * if reservation is not supported (nothing is created then).
     */
    static SegmentSpace create(Path file, String name, long bytes, long step, boolean zeros) throws IOException {
        if (unsupported) {
            return null;
        }
        int fd = POSIX.open(file.toString(), O_WRONLY | O_CREAT, 0600);
        if (fd < 0) {
            throw error("cannot create " + name, POSIX.lastError(), file);
        }
        SegmentSpace s = new SegmentSpace(file, name, fd, step);
        try {
            s.reserve(bytes);
            if (zeros && !unsupported) {
                // Opened now, by the name it has now: Chronicle renames the file into place.
                s.zeroChannel = FileChannel.open(file, StandardOpenOption.WRITE);
            } else {
                s.zeroing = false;
            }
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        return unsupported ? null : s;
    }

    /** Opens an existing file whose first {@code reserved} bytes are known to have blocks. */
    static SegmentSpace open(Path file, long reserved, long step) throws IOException {
        if (unsupported) {
            return null;
        }
        int fd = POSIX.open(file.toString(), O_WRONLY, 0);
        if (fd < 0) {
            throw error("cannot open " + file.getFileName(), POSIX.lastError(), file);
        }
        SegmentSpace s = new SegmentSpace(file, file.getFileName().toString(), fd, step);
        s.reservedTo = reserved;
        s.zeroing = false;
        return s;
    }

    /** Reserves blocks for every byte below {@code end} (and up to the next step beyond it). */
    void ensure(long end) throws IOException {
        if (end > reservedTo && !unsupported) {
            reserve((end + step - 1) / step * step);
        }
    }

    private void reserve(long to) throws IOException {
        long from = reservedTo;
        if (to <= from) {
            return;
        }
        int rc = POSIX.fallocate(fd, 0, from, to - from);
        if (rc != 0) {
            int errno = rc > 0 ? rc : POSIX.lastError();
            if (errno == EOPNOTSUPP) {
                unsupported = true;
                return;
            }
            throw error("cannot reserve " + (to - from) + " bytes at offset " + from + " of " + name,
                    errno, file);
        }
        reservedTo = to;
    }

    long reservedTo() {
        return reservedTo;
    }

    long zeroedTo() {
        return zeroedTo;
    }

    /**
     * Writes zeros into the reserved blocks from {@code from} (rounded up to a page; never below
     * what was zeroed before) to {@code to} (rounded down to a page, at most what is reserved).
     * The caller guarantees that nothing has been written at or beyond {@code from} and that
     * nothing will be written there while this runs: the writer thread calls it, before it hands
     * Chronicle the next document, with {@code from} beyond the end of everything Chronicle wrote.
     * Best effort: an error stops zeroing for this file (the blocks stay reserved).
     */
    void zeroAhead(long from, long to) {
        if (!zeroing || unsupported || zeroChannel == null) {
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
                    zeroChannel.write(z, p + z.position());
                }
            }
            zeroedTo = end;
        } catch (IOException | RuntimeException e) {
            zeroing = false;
        }
    }

    private static IOException error(String what, int errno, Path file) {
        String why = switch (errno) {
            case ENOSPC -> "no space left on device";
            case EDQUOT -> "disk quota exceeded";
            case EROFS -> "read-only file system";
            default -> {
                String s;
                try {
                    s = POSIX.strerror(errno);
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
        POSIX.close(fd);
        if (zeroChannel != null) {
            try {
                zeroChannel.close();
            } catch (IOException ignored) {
                // only zeros went through it; nothing to lose
            }
        }
    }
}
