package dev.revenant.bench;

import java.io.IOException;
import java.nio.file.Path;

import dev.revenant.log.LogOptions;
import dev.revenant.log.LogWriter;

/** The project's writer ({@link LogWriter}: bounded MPSC ring, one writer thread) behind {@link AppendLog}. */
public final class RingLog implements AppendLog {
    private final LogWriter writer;

    public RingLog(Path dir, boolean force) throws IOException {
        LogOptions o = new LogOptions();
        if (!force) {
            o.unsafeSkipForce();
        }
        this.writer = LogWriter.open(dir, o);
    }

    public LogWriter writer() {
        return writer;
    }

    @Override
    public long append(int type, long thread, long threadSeq, byte[] payload) {
        long p = writer.append(type, thread, threadSeq, payload);
        if (p < 0) {
            throw new IllegalStateException("append refused: " + writer.failure());
        }
        return p;
    }

    @Override
    public long writtenPosition() {
        return writer.writtenPosition();
    }

    @Override
    public void close() throws IOException {
        writer.close();
    }
}
