package dev.revenant.log.checkpoint;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A checkpoint or the checkpoint key cannot be used: it is truncated, not a checkpoint, from
 * an unknown format version, or it failed its integrity check. The message is one line and
 * says whether the file will be skipped or what to do.
 */
public class CheckpointException extends IOException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;

    public CheckpointException(Path file, String message) {
        super(message);
        this.file = file;
    }

    public CheckpointException(Path file, String message, Throwable cause) {
        super(message, cause);
        this.file = file;
    }

    /** The checkpoint or key file concerned. */
    public Path file() {
        return file;
    }
}
