package dev.revenant.log;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The log's file system refused room for more records (full, over quota, read-only, failing).
 * The writer pauses on it instead of failing for good: nothing was written into the refused
 * range, so once room returns it goes on where it stopped.
 */
public final class LogSpaceException extends IOException {
    private final int errno;
    private final transient Path directory;

    public LogSpaceException(String message, int errno, Path directory) {
        super(message);
        this.errno = errno;
        this.directory = directory;
    }

    /** The OS error number, 28 for "no space left on device", 30 for "read-only file system". */
    public int errno() {
        return errno;
    }

    public Path directory() {
        return directory;
    }
}
