package dev.revenant.log.checkpoint;

import java.nio.file.Path;

/**
 * One checkpoint file as described by its header: which recovery epoch wrote it, up to which
 * log position (Chronicle Queue index) the heap snapshot accounts for, how long the opaque
 * body is and when it was written.
 *
 * <p>A {@code Checkpoint} obtained from {@link CheckpointStore#list()} has only had its header
 * parsed; {@link CheckpointStore#read} and {@link CheckpointStore#open} verify the whole file
 * before releasing any of the body.
 *
 * @param file the checkpoint file
 * @param epoch the recovery epoch that wrote it (0 for the first run, +1 per recovery)
 * @param coveredPosition the log position up to which the snapshot is complete
 * @param bodyLength the length of the body in bytes
 * @param createdAtMillis wall-clock time of writing, milliseconds since the epoch
 */
public record Checkpoint(Path file, int epoch, long coveredPosition, long bodyLength,
        long createdAtMillis) {
}
