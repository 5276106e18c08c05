package dev.revenant.bench;

import java.io.IOException;

/** The append path the benchmarks compare: the project's ring writer and per-thread Chronicle appenders. */
public interface AppendLog extends AutoCloseable {
    /** Appends one record; returns its dense position. */
    long append(int type, long thread, long threadSeq, byte[] payload);

    /** Highest position handed to Chronicle so far (for the per-iteration diagnostics). */
    long writtenPosition();

    @Override
    void close() throws IOException;
}
