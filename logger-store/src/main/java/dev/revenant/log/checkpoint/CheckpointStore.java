package dev.revenant.log.checkpoint;

import dev.revenant.log.LogDirectory;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Keeps heap checkpoints (opaque blobs, in practice Kryo snapshots) durable and tamper-evident.
 *
 * <p>Why the care: a checkpoint is deserialized at recovery, and deserializing untrusted bytes
 * with Kryo amounts to running code chosen by whoever wrote them. Every file therefore carries
 * an HMAC-SHA256 under a per-log secret key, and {@link #read} / {@link #open} check it over
 * the <em>whole</em> file before a single body byte is released. A file that was damaged,
 * truncated or written with another key is refused, never "mostly" used.
 *
 * <h2>Layout on disk</h2>
 * <pre>
 *   &lt;logDir&gt;/checkpoint.key                              32 random bytes, mode 0600
 *   &lt;logDir&gt;/checkpoints/                                mode 0700
 *   &lt;logDir&gt;/checkpoints/checkpoint-&lt;position, 16 hex&gt;-&lt;epoch&gt;.ckpt   mode 0600
 * </pre>
 * The key may live elsewhere ({@link #open(Path, Path)}), e.g. on a secrets mount.
 *
 * <h2>Checkpoint file format (version 1, all integers big-endian)</h2>
 * <pre>
 *  offset   size  field
 *  ------   ----  ---------------------------------------------------------------
 *       0      4  magic "RVCK" (0x52 0x56 0x43 0x4B)
 *       4      2  format version, u16 = 1
 *       6      4  epoch, u32: the recovery epoch that wrote the checkpoint
 *      10      8  covered position, u64: log position the snapshot accounts for
 *      18      8  body length L, u64
 *      26      8  created-at, u64: milliseconds since 1970-01-01T00:00Z
 *      34      L  body: opaque bytes
 *    34+L     32  HMAC-SHA256(key, bytes [0, 34+L))
 * </pre>
 * The MAC covers the header too, so no field can be changed (e.g. to make an old snapshot look
 * newer) without detection.
 *
 * <h2>Durability</h2>
 * A checkpoint is written to a hidden temporary file created {@code 0600}, forced to disk,
 * renamed atomically to its final name, and the directory is fsynced; a crash leaves either
 * the complete file or none (at worst a stale hidden temporary file).
 *
 * <p>Instances are safe to share between threads; {@link #problems()} reports the outcome of
 * the most recent scan by any thread.
 */
public final class CheckpointStore {

    /** Default name of the key file inside the log directory. */
    public static final String KEY_FILE_NAME = "checkpoint.key";
    /** Name of the subdirectory of the log directory that holds the checkpoints. */
    public static final String DIRECTORY_NAME = "checkpoints";
    /** Length of the HMAC key in bytes. */
    public static final int KEY_LENGTH = 32;
    /** The only format version this code reads and writes. */
    public static final int FORMAT_VERSION = 1;

    static final byte[] MAGIC = "RVCK".getBytes(StandardCharsets.US_ASCII);
    static final int HEADER_LENGTH = 4 + 2 + 4 + 8 + 8 + 8;
    static final int MAC_LENGTH = 32;
    static final String FILE_PREFIX = "checkpoint-";
    static final String FILE_SUFFIX = ".ckpt";

    private static final String MAC_ALGORITHM = "HmacSHA256";
    private static final int IO_CHUNK = 1 << 16;
    private static final long MAX_ARRAY_BODY = Integer.MAX_VALUE - 16;
    private static final Comparator<Checkpoint> OLDEST_FIRST =
            Comparator.comparingLong(Checkpoint::coveredPosition)
                    .thenComparingInt(Checkpoint::epoch)
                    .thenComparingLong(Checkpoint::createdAtMillis)
                    .thenComparing(c -> c.file().getFileName().toString());

    /** Produces a checkpoint body by writing it to the stream it is given (do not close it). */
    @FunctionalInterface
    public interface BodyWriter {
        void writeTo(OutputStream out) throws IOException;
    }

    private final Path directory;
    private final Path keyFile;
    private final SecretKeySpec key;
    private volatile List<String> problems = List.of();

    private CheckpointStore(Path directory, Path keyFile, byte[] key) {
        this.directory = directory;
        this.keyFile = keyFile;
        this.key = new SecretKeySpec(key, MAC_ALGORITHM);
    }

    /** Opens the store of {@code logDir} with the key in {@code <logDir>/checkpoint.key}. */
    public static CheckpointStore open(Path logDir) throws IOException {
        return open(logDir, null);
    }

    /**
     * Opens the store of {@code logDir}, creating {@code <logDir>/checkpoints/} ({@code 0700})
     * and, if missing, the key file with 32 fresh random bytes ({@code 0600}).
     *
     * @param keyFile where the HMAC key lives; {@code null} means {@code <logDir>/checkpoint.key}
     * @throws dev.revenant.log.LogDirectoryException if a directory is unusable
     * @throws CheckpointException if an existing key file is not a 32-byte regular file
     */
    public static CheckpointStore open(Path logDir, Path keyFile) throws IOException {
        Path log = LogDirectory.prepareForWriting(logDir);
        Path dir = LogDirectory.prepareForWriting(log.resolve(DIRECTORY_NAME));
        Path keyPath = keyFile == null
                ? log.resolve(KEY_FILE_NAME)
                : keyFile.toAbsolutePath().normalize();
        byte[] key = loadOrCreateKey(keyPath);
        try {
            return new CheckpointStore(dir, keyPath, key);
        } finally {
            Arrays.fill(key, (byte) 0);
        }
    }

    /** The directory holding the checkpoint files. */
    public Path directory() {
        return directory;
    }

    /** The key file in use. */
    public Path keyFile() {
        return keyFile;
    }

    // ------------------------------------------------------------------------------------
    // writing

    /** Writes a checkpoint whose body is {@code body}. */
    public Checkpoint write(int epoch, long coveredPosition, byte[] body) throws IOException {
        Objects.requireNonNull(body, "body");
        return write(epoch, coveredPosition, out -> out.write(body));
    }

    /** Writes a checkpoint whose body is everything {@code body} yields (it is not closed). */
    public Checkpoint write(int epoch, long coveredPosition, InputStream body) throws IOException {
        Objects.requireNonNull(body, "body");
        return write(epoch, coveredPosition, body::transferTo);
    }

    /**
     * Writes a checkpoint whose body is streamed by {@code body}, so a large snapshot never has
     * to sit in memory. The body length is patched into the header afterwards, and the MAC is
     * then computed by reading the file back (from the page cache, in practice).
     *
     * @param epoch the recovery epoch writing it, {@code >= 0}
     * @param coveredPosition the log position the snapshot accounts for, {@code >= 0}
     * @return the new checkpoint; an existing checkpoint for the same position and epoch is
     *     replaced atomically
     */
    public Checkpoint write(int epoch, long coveredPosition, BodyWriter body) throws IOException {
        if (epoch < 0) {
            throw new IllegalArgumentException("epoch must be >= 0: " + epoch);
        }
        if (coveredPosition < 0) {
            throw new IllegalArgumentException("coveredPosition must be >= 0: " + coveredPosition);
        }
        Objects.requireNonNull(body, "body");
        Path target = directory.resolve(fileName(coveredPosition, epoch));
        Path tmp = Files.createTempFile(directory, ".checkpoint-", ".tmp",
                LogDirectory.privateFileAttributes(directory));
        boolean published = false;
        try {
            long createdAt = System.currentTimeMillis();
            long bodyLength;
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.READ,
                    StandardOpenOption.WRITE)) {
                ChannelSink sink = new ChannelSink(ch, HEADER_LENGTH);
                try (OutputStream out = new BufferedOutputStream(sink, IO_CHUNK)) {
                    body.writeTo(out);
                }
                bodyLength = sink.written;
                writeFully(ch, encodeHeader(epoch, coveredPosition, bodyLength, createdAt), 0);
                byte[] mac = macOf(ch, HEADER_LENGTH + bodyLength);
                writeFully(ch, ByteBuffer.wrap(mac), HEADER_LENGTH + bodyLength);
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            published = true;
            LogDirectory.fsyncDirectory(directory);
            return new Checkpoint(target, epoch, coveredPosition, bodyLength, createdAt);
        } finally {
            if (!published) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException suppressed) {
                    // the write already failed; a stale hidden temp file is harmless
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------
    // reading

    /**
     * Returns the body of {@code c} after verifying the whole file.
     *
     * @throws CheckpointException if the file is truncated, not a checkpoint, of an unknown
     *     version, fails its HMAC, or no longer matches {@code c}; no body byte is returned
     */
    public byte[] read(Checkpoint c) throws IOException {
        try (FileChannel ch = FileChannel.open(c.file(), StandardOpenOption.READ)) {
            Header h = verify(ch, c);
            if (h.bodyLength > MAX_ARRAY_BODY) {
                throw new CheckpointException(c.file(), "checkpoint " + c.file() + " has a body of "
                        + h.bodyLength + " bytes, too large for a byte array: stream it with open()");
            }
            byte[] body = new byte[(int) h.bodyLength];
            readFully(ch, ByteBuffer.wrap(body), HEADER_LENGTH);
            return body;
        }
    }

    /**
     * Opens the body of {@code c} as a stream after verifying the whole file. The stream reads
     * from the same open file that was verified, so replacing the file by rename afterwards
     * cannot smuggle in other bytes. Close the stream when done.
     *
     * @throws CheckpointException as for {@link #read}
     */
    public InputStream open(Checkpoint c) throws IOException {
        FileChannel ch = FileChannel.open(c.file(), StandardOpenOption.READ);
        try {
            Header h = verify(ch, c);
            return new BufferedInputStream(new BodyInputStream(ch, HEADER_LENGTH, h.bodyLength),
                    IO_CHUNK);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    // ------------------------------------------------------------------------------------
    // listing and housekeeping

    /**
     * Lists the checkpoints, oldest (lowest covered position) first, by parsing headers only:
     * a listed checkpoint may still fail verification. Files that cannot be parsed are left
     * out and described in {@link #problems()}.
     */
    public List<Checkpoint> list() throws IOException {
        List<String> found = new ArrayList<>();
        List<Checkpoint> result = scan(found);
        problems = List.copyOf(found);
        return result;
    }

    /**
     * The newest checkpoint whose HMAC verifies. Newer ones that fail are skipped and
     * described in {@link #problems()}; this reads every skipped file and the returned one
     * completely.
     */
    public Optional<Checkpoint> newestValid() throws IOException {
        List<String> found = new ArrayList<>();
        List<Checkpoint> all = scan(found);
        try {
            for (int i = all.size() - 1; i >= 0; i--) {
                if (isValid(all.get(i), found)) {
                    return Optional.of(all.get(i));
                }
            }
            return Optional.empty();
        } finally {
            problems = List.copyOf(found);
        }
    }

    /**
     * Keeps the newest {@code n} valid checkpoints and deletes every checkpoint older than the
     * oldest of them, valid or not: they are superseded, so nothing can need them. Files that
     * fail verification but are <em>newer</em> than a kept checkpoint, and files that cannot be
     * parsed at all, are left in place for inspection and described in {@link #problems()}.
     * If fewer than {@code n} valid checkpoints exist, nothing is deleted.
     */
    public void retain(int n) throws IOException {
        if (n < 0) {
            throw new IllegalArgumentException("n must be >= 0: " + n);
        }
        List<String> found = new ArrayList<>();
        try {
            List<Checkpoint> all = scan(found);
            int kept = 0;
            int i = all.size() - 1;
            while (i >= 0 && kept < n) {
                if (isValid(all.get(i), found)) {
                    kept++;
                }
                i--;
            }
            // indexes 0..i are older than the n-th newest valid checkpoint
            for (int j = 0; j <= i; j++) {
                Files.deleteIfExists(all.get(j).file());
            }
            if (i >= 0) {
                LogDirectory.fsyncDirectory(directory);
            }
        } finally {
            problems = List.copyOf(found);
        }
    }

    /**
     * Files that the most recent {@link #list()}, {@link #newestValid()} or {@link #retain}
     * could not use, one line each naming the file and the reason.
     */
    public List<String> problems() {
        return problems;
    }

    @Override
    public String toString() {
        return "CheckpointStore[" + directory + ", key " + keyFile + "]";
    }

    // ------------------------------------------------------------------------------------
    // internals

    static String fileName(long coveredPosition, int epoch) {
        return String.format("%s%016x-%d%s", FILE_PREFIX, coveredPosition, epoch, FILE_SUFFIX);
    }

    private boolean isValid(Checkpoint c, List<String> found) {
        try (FileChannel ch = FileChannel.open(c.file(), StandardOpenOption.READ)) {
            verify(ch, c);
            return true;
        } catch (IOException e) {
            found.add(e instanceof CheckpointException
                    ? e.getMessage()
                    : "checkpoint " + c.file() + " cannot be read: " + e);
            return false;
        }
    }

    private List<Checkpoint> scan(List<String> found) throws IOException {
        List<Checkpoint> result = new ArrayList<>();
        if (!Files.isDirectory(directory)) {
            return result;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory,
                p -> {
                    String name = p.getFileName().toString();
                    return name.startsWith(FILE_PREFIX) && name.endsWith(FILE_SUFFIX);
                })) {
            for (Path file : entries) {
                try {
                    result.add(readHeaderOnly(file));
                } catch (IOException e) {
                    found.add(e instanceof CheckpointException
                            ? e.getMessage()
                            : "checkpoint " + file + " cannot be read: " + e);
                }
            }
        }
        result.sort(OLDEST_FIRST);
        return result;
    }

    private static Checkpoint readHeaderOnly(Path file) throws IOException {
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new CheckpointException(file, "checkpoint " + file
                    + " is not a regular file; it will not be used");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < HEADER_LENGTH + MAC_LENGTH) {
                throw tooShort(file, size);
            }
            ByteBuffer buf = ByteBuffer.allocate(HEADER_LENGTH);
            readFully(ch, buf, 0);
            Header h = Header.decode(buf.flip());
            String defect = h.defect(size);
            if (defect != null) {
                throw new CheckpointException(file, "checkpoint " + file + " " + defect
                        + "; it will not be used");
            }
            return new Checkpoint(file, h.epoch, h.coveredPosition, h.bodyLength, h.createdAtMillis);
        }
    }

    /**
     * Checks the HMAC over the whole file, then the header, then that the file still is the
     * checkpoint {@code c} describes. Nothing of the body leaves this method.
     */
    private Header verify(FileChannel ch, Checkpoint c) throws IOException {
        Path file = c.file();
        long size = ch.size();
        if (size < HEADER_LENGTH + MAC_LENGTH) {
            throw tooShort(file, size);
        }
        byte[] computed = macOf(ch, size - MAC_LENGTH);
        ByteBuffer stored = ByteBuffer.allocate(MAC_LENGTH);
        readFully(ch, stored, size - MAC_LENGTH);
        ByteBuffer headerBytes = ByteBuffer.allocate(HEADER_LENGTH);
        readFully(ch, headerBytes, 0);
        Header h = Header.decode(headerBytes.flip());
        String defect = h.defect(size);
        if (!MessageDigest.isEqual(computed, stored.array())) {
            throw new CheckpointException(file, "checkpoint " + file + " failed its integrity check"
                    + " (HMAC mismatch): it was damaged or written with another key; it will not"
                    + " be used" + (defect == null ? "" : " (besides, it " + defect + ")"));
        }
        if (defect != null) {
            // authentic yet malformed: only possible with the key, e.g. a future format
            throw new CheckpointException(file, "checkpoint " + file + " " + defect
                    + "; it will not be used");
        }
        if (h.epoch != c.epoch() || h.coveredPosition != c.coveredPosition()
                || h.bodyLength != c.bodyLength() || h.createdAtMillis != c.createdAtMillis()) {
            throw new CheckpointException(file, "checkpoint " + file + " no longer matches what"
                    + " was listed (it was replaced in the meantime): list the checkpoints again");
        }
        return h;
    }

    private static CheckpointException tooShort(Path file, long size) {
        return new CheckpointException(file, "checkpoint " + file + " is truncated: " + size
                + " bytes, fewer than the " + (HEADER_LENGTH + MAC_LENGTH)
                + " of an empty checkpoint; it will not be used");
    }

    private static ByteBuffer encodeHeader(int epoch, long position, long bodyLength,
            long createdAt) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_LENGTH).order(ByteOrder.BIG_ENDIAN);
        b.put(MAGIC);
        b.putShort((short) FORMAT_VERSION);
        b.putInt(epoch);
        b.putLong(position);
        b.putLong(bodyLength);
        b.putLong(createdAt);
        return b.flip();
    }

    /** The parsed (not yet trusted) header. */
    private record Header(boolean magicOk, int version, int epoch, long coveredPosition,
            long bodyLength, long createdAtMillis) {

        static Header decode(ByteBuffer b) {
            byte[] magic = new byte[MAGIC.length];
            b.order(ByteOrder.BIG_ENDIAN).get(magic);
            return new Header(Arrays.equals(magic, MAGIC), Short.toUnsignedInt(b.getShort()),
                    b.getInt(), b.getLong(), b.getLong(), b.getLong());
        }

        /** What is wrong with this header for a file of {@code size} bytes, or null. */
        String defect(long size) {
            if (!magicOk) {
                return "does not start with \"RVCK\": it is not a Revenant checkpoint";
            }
            if (version != FORMAT_VERSION) {
                return "has format version " + version + " but this Revenant reads only version "
                        + FORMAT_VERSION + " (written by a newer Revenant?)";
            }
            if (epoch < 0 || coveredPosition < 0 || bodyLength < 0) {
                return "has an impossible header (epoch " + Integer.toUnsignedString(epoch)
                        + ", position " + Long.toUnsignedString(coveredPosition) + ", body length "
                        + Long.toUnsignedString(bodyLength) + ")";
            }
            long expected = HEADER_LENGTH + bodyLength + MAC_LENGTH;
            if (expected < 0 || size < expected) {
                return "is truncated: " + size + " bytes, but its header announces " + expected;
            }
            if (size > expected) {
                return "has " + (size - expected) + " unexpected bytes after its end";
            }
            return null;
        }
    }

    private Mac newMac() {
        try {
            Mac mac = Mac.getInstance(MAC_ALGORITHM);
            mac.init(key);
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JVM cannot compute " + MAC_ALGORITHM, e);
        }
    }

    /** HMAC of bytes {@code [0, end)} of the file. */
    private byte[] macOf(FileChannel ch, long end) throws IOException {
        Mac mac = newMac();
        ByteBuffer buf = ByteBuffer.allocate(IO_CHUNK);
        long pos = 0;
        while (pos < end) {
            buf.clear().limit((int) Math.min(IO_CHUNK, end - pos));
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new EOFException("file ended at " + pos + " of " + end + " bytes");
            }
            pos += n;
            mac.update(buf.flip());
        }
        return mac.doFinal();
    }

    private static void readFully(FileChannel ch, ByteBuffer into, long position)
            throws IOException {
        long pos = position;
        while (into.hasRemaining()) {
            int n = ch.read(into, pos);
            if (n < 0) {
                throw new EOFException("file ended at " + pos);
            }
            pos += n;
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer from, long position)
            throws IOException {
        long pos = position;
        while (from.hasRemaining()) {
            pos += ch.write(from, pos);
        }
    }

    // ------------------------------------------------------------------------------------
    // key file

    private static byte[] loadOrCreateKey(Path keyFile) throws IOException {
        if (!Files.exists(keyFile, LinkOption.NOFOLLOW_LINKS)) {
            createKey(keyFile);
        }
        if (!Files.isRegularFile(keyFile)) {
            throw new CheckpointException(keyFile, "checkpoint key " + keyFile
                    + " is not a regular file; point keyFile= at the 32-byte key file");
        }
        byte[] key = Files.readAllBytes(keyFile);
        if (key.length != KEY_LENGTH) {
            int length = key.length;
            Arrays.fill(key, (byte) 0);
            throw new CheckpointException(keyFile, "checkpoint key " + keyFile + " has " + length
                    + " bytes instead of " + KEY_LENGTH + ": it is not a Revenant checkpoint key;"
                    + " restore the right file, or move it away to start with a new key (existing"
                    + " checkpoints then become unusable)");
        }
        tightenIfLoose(keyFile);
        return key;
    }

    /**
     * Creates the key so that it never exists with a looser mode or partial content: a
     * temporary file created {@code 0600} is filled and forced, then published under the final
     * name with a hard link, which (unlike rename) fails instead of overwriting when another
     * process created the key concurrently; file systems without hard links get an atomic
     * rename instead.
     */
    private static void createKey(Path keyFile) throws IOException {
        Path parent = keyFile.getParent();
        if (!Files.isDirectory(parent)) {
            LogDirectory.prepareForWriting(parent);
        }
        byte[] key = new byte[KEY_LENGTH];
        new SecureRandom().nextBytes(key);
        Path tmp = Files.createTempFile(parent, "." + keyFile.getFileName() + "-", ".tmp",
                LogDirectory.privateFileAttributes(parent));
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                writeFully(ch, ByteBuffer.wrap(key), 0);
                ch.force(true);
            }
            try {
                Files.createLink(keyFile, tmp);
            } catch (FileAlreadyExistsException raced) {
                // another process won the race; everyone uses its key
            } catch (UnsupportedOperationException | IOException noLinks) {
                Files.move(tmp, keyFile, StandardCopyOption.ATOMIC_MOVE);
            }
            LogDirectory.fsyncDirectory(parent);
        } finally {
            Arrays.fill(key, (byte) 0);
            Files.deleteIfExists(tmp);
        }
    }

    /** Best effort: a key on a read-only secrets mount may be 0400 or 0644 and unchangeable. */
    private static void tightenIfLoose(Path keyFile) {
        if (!LogDirectory.isPosix(keyFile)) {
            return;
        }
        try {
            Set<PosixFilePermission> mode = new HashSet<>(Files.getPosixFilePermissions(keyFile));
            mode.remove(PosixFilePermission.OWNER_READ);
            mode.remove(PosixFilePermission.OWNER_WRITE);
            if (!mode.isEmpty()) {
                LogDirectory.restrictFile(keyFile);
            }
        } catch (IOException | RuntimeException ignored) {
            // not ours to fix (read-only mount, other owner): the key is still usable
        }
    }

    /** Writes to the channel at an advancing position and counts; closing leaves it open. */
    private static final class ChannelSink extends OutputStream {
        private final FileChannel ch;
        private final long start;
        long written;

        ChannelSink(FileChannel ch, long start) {
            this.ch = ch;
            this.start = start;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            writeFully(ch, ByteBuffer.wrap(b, off, len), start + written);
            written += len;
        }
    }

    /** Reads {@code length} bytes from {@code start}; closing closes the channel. */
    private static final class BodyInputStream extends InputStream {
        private final FileChannel ch;
        private long pos;
        private final long end;

        BodyInputStream(FileChannel ch, long start, long length) {
            this.ch = ch;
            this.pos = start;
            this.end = start + length;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            Objects.checkFromIndexSize(off, len, b.length);
            if (len == 0) {
                return 0;
            }
            if (pos >= end) {
                return -1;
            }
            int want = (int) Math.min(len, end - pos);
            int n = ch.read(ByteBuffer.wrap(b, off, want), pos);
            if (n < 0) {
                throw new EOFException("checkpoint body ended early at " + pos);
            }
            pos += n;
            return n;
        }

        @Override
        public int available() {
            return (int) Math.min(Integer.MAX_VALUE, end - pos);
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }
}
