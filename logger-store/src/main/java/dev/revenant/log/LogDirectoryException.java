package dev.revenant.log;

import java.io.IOException;

/**
 * A log directory cannot be used: it is missing, not a directory, unsafe (world-writable),
 * not writable, or not a Revenant log. The message is a single line that says what is wrong
 * and what the operator can do about it, because it usually ends up as the only line a user
 * sees when the agent refuses to start.
 */
public class LogDirectoryException extends IOException {

    private static final long serialVersionUID = 1L;

    public LogDirectoryException(String message) {
        super(message);
    }

    public LogDirectoryException(String message, Throwable cause) {
        super(message, cause);
    }
}
