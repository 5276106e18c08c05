package dev.revenant.log;

import java.io.IOException;

/** Latched when the writer closes normally, so later calls say "closed", not "failed". */
final class ClosedLogException extends IOException {
    ClosedLogException(String m) {
        super(m);
    }
}
