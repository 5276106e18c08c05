package dev.revenant.log;

import java.io.IOException;

/** The writer cannot be opened or used; the message says why and what to do. */
public class LogWriterException extends IOException {
    public LogWriterException(String message) {
        super(message);
    }

    public LogWriterException(String message, Throwable cause) {
        super(message, cause);
    }
}
