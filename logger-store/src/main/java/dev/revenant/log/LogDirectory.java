package dev.revenant.log;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Set;

/**
 * Checks and prepares the directory that holds one process's log.
 *
 * <p>A Revenant log contains everything the application read and every random number it drew,
 * so it is as sensitive as the application's own memory. Every writer and reader goes through
 * these helpers so the rules are the same everywhere:
 *
 * <ul>
 *   <li>a new log directory is created {@code 0700};
 *   <li>an existing one that is world-writable is refused, because somebody else may already
 *       have planted or swapped files in it and tightening it now would not undo that;
 *   <li>an existing one that is merely readable by group/others is tightened to {@code 0700};
 *   <li>writability is <em>probed</em> by creating a file, never inferred from the mode bits,
 *       because root ignores the mode bits and read-only mounts ignore root.
 * </ul>
 *
 * <p>On file systems without POSIX permissions the permission steps are skipped; the other
 * checks still apply.
 */
public final class LogDirectory {

    /** {@code rwx------}: only the owning user may list, read or create anything. */
    static final Set<PosixFilePermission> DIRECTORY_PERMISSIONS =
            PosixFilePermissions.fromString("rwx------");

    /** {@code rw-------}: for files that hold secrets (segments, checkpoints, keys). */
    static final Set<PosixFilePermission> FILE_PERMISSIONS =
            PosixFilePermissions.fromString("rw-------");

    /** Chronicle Queue segment files end with this; at least one means "this is a log". */
    static final String SEGMENT_SUFFIX = ".cq4";

    private LogDirectory() {
    }

    /**
     * Makes {@code dir} ready to receive a log: creates it (and missing parents) {@code 0700},
     * or validates an existing one and tightens its mode to {@code 0700}.
     *
     * @return the absolute, normalized path of the directory
     * @throws LogDirectoryException if the path is not a directory, is world-writable, or
     *     cannot be created or written to; the message names the directory and the reason
     */
    public static Path prepareForWriting(Path dir) throws LogDirectoryException {
        Path abs = dir.toAbsolutePath().normalize();
        boolean posix = isPosix(abs);
        if (Files.exists(abs)) {
            if (!Files.isDirectory(abs)) {
                throw new LogDirectoryException("log directory " + abs
                        + " exists but is not a directory: remove it or choose another log path");
            }
            Set<PosixFilePermission> mode = posix ? readMode(abs) : null;
            if (mode != null && mode.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new LogDirectoryException("log directory " + abs + " is world-writable (mode "
                        + octal(mode) + "); a log holds secrets: chmod 700 it or choose another");
            }
            probeWritable(abs);
            if (mode != null && !mode.equals(DIRECTORY_PERMISSIONS)) {
                setMode(abs, DIRECTORY_PERMISSIONS, "log directory");
            }
            return abs;
        }
        create(abs, posix);
        probeWritable(abs);
        return abs;
    }

    /**
     * Checks that {@code dir} holds a log a reader can open. Only reads; works on read-only
     * copies and mounts of a log.
     *
     * @return the absolute, normalized path of the directory
     * @throws LogDirectoryException if the directory is missing, not a directory, unreadable,
     *     or has no {@code *.cq4} segment file
     */
    public static Path requireReadableLog(Path dir) throws LogDirectoryException {
        Path abs = dir.toAbsolutePath().normalize();
        if (!Files.exists(abs)) {
            throw new LogDirectoryException("no log at " + abs
                    + ": the directory does not exist; check the log path");
        }
        if (!Files.isDirectory(abs)) {
            throw new LogDirectoryException(abs + " is not a directory; a Revenant log is a"
                    + " directory of *.cq4 segment files: pass the directory, not a file in it");
        }
        boolean empty = true;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(abs)) {
            for (Path entry : entries) {
                empty = false;
                String name = entry.getFileName().toString();
                if (name.endsWith(SEGMENT_SUFFIX) && Files.isRegularFile(entry)) {
                    return abs;
                }
            }
        } catch (IOException e) {
            throw new LogDirectoryException("cannot read log directory " + abs + ": "
                    + reason(e) + "; check its permissions", e);
        }
        throw new LogDirectoryException(abs + " is not a Revenant log: no *.cq4 segment files"
                + (empty ? " (the directory is empty)" : "") + "; check the log path");
    }

    /**
     * Sets a file that holds secrets to {@code 0600}. Does nothing on file systems without
     * POSIX permissions.
     *
     * @throws UncheckedIOException if the mode cannot be changed (a secret must not be left
     *     readable silently)
     */
    public static void restrictFile(Path file) {
        if (!isPosix(file)) {
            return;
        }
        try {
            Files.setPosixFilePermissions(file, FILE_PERMISSIONS);
        } catch (UnsupportedOperationException e) {
            // not POSIX after all (e.g. a provider that reports the view but cannot set it)
        } catch (IOException e) {
            throw new UncheckedIOException("cannot restrict " + file + " to mode 0600: "
                    + reason(e), e);
        }
    }

    /**
     * Makes the names in {@code dir} durable: after a create or rename, the data of the file
     * may be on disk while its directory entry is not. Linux allows {@code fsync} on a
     * directory descriptor, which is what this does. Skipped on non-POSIX file systems, where
     * directories cannot be opened this way.
     */
    public static void fsyncDirectory(Path dir) throws IOException {
        if (!isPosix(dir)) {
            return;
        }
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        }
    }

    /** The {@code rw-------} attribute for creating secret files atomically with their mode. */
    public static FileAttribute<?>[] privateFileAttributes(Path where) {
        return isPosix(where)
                ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(FILE_PERMISSIONS)}
                : new FileAttribute<?>[0];
    }

    /** The {@code rwx------} attribute for creating private directories atomically with their mode. */
    public static FileAttribute<?>[] privateDirectoryAttributes(Path where) {
        return isPosix(where)
                ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(DIRECTORY_PERMISSIONS)}
                : new FileAttribute<?>[0];
    }

    /** Whether the file system of {@code path} has POSIX permissions. */
    public static boolean isPosix(Path path) {
        return path.getFileSystem().supportedFileAttributeViews().contains("posix");
    }

    /** A short OS-level reason for an I/O failure ("Permission denied", "Read-only file system"). */
    static String reason(IOException e) {
        if (e instanceof FileSystemException && ((FileSystemException) e).getReason() != null) {
            return ((FileSystemException) e).getReason();
        }
        // The JDK maps these errno values to dedicated exceptions without a reason text.
        if (e instanceof AccessDeniedException) {
            return "Permission denied";
        }
        if (e instanceof NoSuchFileException) {
            return "No such file or directory";
        }
        if (e instanceof FileAlreadyExistsException) {
            return "File exists";
        }
        if (e instanceof NotDirectoryException) {
            return "Not a directory";
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /** {@code 0755}-style rendering of a permission set, for messages. */
    static String octal(Set<PosixFilePermission> mode) {
        PosixFilePermission[] highToLow = {
            PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_EXECUTE};
        int bits = 0;
        for (PosixFilePermission p : highToLow) {
            bits = (bits << 1) | (mode.contains(p) ? 1 : 0);
        }
        return String.format("%04o", bits);
    }

    private static void create(Path abs, boolean posix) throws LogDirectoryException {
        // Remember which components we create, so their names can be made durable afterwards.
        Deque<Path> missing = new ArrayDeque<>();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            missing.push(existing);
            existing = existing.getParent();
        }
        if (existing != null && !Files.isDirectory(existing)) {
            throw new LogDirectoryException("cannot create log directory " + abs + ": "
                    + existing + " is a file, not a directory; choose another log path");
        }
        try {
            if (posix) {
                Files.createDirectories(abs,
                        PosixFilePermissions.asFileAttribute(DIRECTORY_PERMISSIONS));
            } else {
                Files.createDirectories(abs);
            }
        } catch (IOException e) {
            throw new LogDirectoryException("cannot create log directory " + abs + ": "
                    + reason(e) + "; choose a location the service user can write to", e);
        }
        try {
            for (Path created : missing) {
                if (posix) {
                    // the umask may have removed bits we asked for; state the mode explicitly
                    Files.setPosixFilePermissions(created, DIRECTORY_PERMISSIONS);
                }
                fsyncDirectory(created.getParent());
            }
        } catch (IOException e) {
            throw new LogDirectoryException("created log directory " + abs
                    + " but could not secure it: " + reason(e), e);
        }
    }

    private static void probeWritable(Path abs) throws LogDirectoryException {
        // A name of our own rather than Files.createTempFile, which seeds a SecureRandom for its
        // names (NativePRNG: /dev/random, SHA1 mixing): milliseconds of every recorded JVM's
        // start-up. The pid and a counter are unique among live processes; CREATE_NEW refuses a
        // clash with a probe a dead process left, and the next name is tried.
        Path probe = null;
        IOException failure = null;
        for (int attempt = 0; attempt < 8 && probe == null; attempt++) {
            Path candidate = abs.resolve(".revenant-probe-" + ProcessHandle.current().pid() + "-"
                    + PROBES.incrementAndGet() + ".tmp");
            try {
                probe = Files.createFile(candidate, privateFileAttributes(abs));
            } catch (FileAlreadyExistsException e) {
                failure = e;
            } catch (IOException e) {
                failure = e;
                break;
            }
        }
        if (probe == null) {
            throw new LogDirectoryException("log directory " + abs + " is not writable: "
                    + reason(failure) + "; fix its owner/permissions or choose another", failure);
        }
        try {
            Files.delete(probe);
        } catch (IOException e) {
            throw new LogDirectoryException("log directory " + abs
                    + " lets us create files but not delete them (" + reason(e)
                    + "); fix its permissions or choose another", e);
        }
    }

    private static final java.util.concurrent.atomic.AtomicInteger PROBES = new java.util.concurrent.atomic.AtomicInteger();

    private static Set<PosixFilePermission> readMode(Path abs) throws LogDirectoryException {
        try {
            return Files.getPosixFilePermissions(abs);
        } catch (UnsupportedOperationException e) {
            return null;
        } catch (IOException e) {
            throw new LogDirectoryException("cannot read the permissions of log directory " + abs
                    + ": " + reason(e), e);
        }
    }

    private static void setMode(Path path, Set<PosixFilePermission> mode, String what)
            throws LogDirectoryException {
        try {
            Files.setPosixFilePermissions(path, mode);
        } catch (IOException e) {
            throw new LogDirectoryException("cannot restrict " + what + " " + path + " to mode "
                    + octal(mode) + ": " + reason(e) + "; chmod it yourself or choose another", e);
        }
    }

    /**
     * Chronicle loads jffi and JNA, which unpack a native library into {@code java.io.tmpdir} and
     * {@code ~/.cache/JNA} (and delete it once loaded). Unless the user chose places for them, they
     * unpack inside the log directory instead: the log writes nothing anywhere else.
     */
    static void keepNativeExtractionInside(Path d) throws IOException {
        if (System.getProperty("jffi.extract.dir") != null && System.getProperty("jna.tmpdir") != null) {
            return;
        }
        Path nat = d.resolve(".native");
        if (!Files.isDirectory(nat)) {
            Files.createDirectories(nat, LogDirectory.privateDirectoryAttributes(nat));
        }
        if (System.getProperty("jffi.extract.dir") == null) {
            System.setProperty("jffi.extract.dir", nat.toString());
        }
        if (System.getProperty("jna.tmpdir") == null) {
            System.setProperty("jna.tmpdir", nat.toString());
        }
    }
}
