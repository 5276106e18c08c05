package dev.revenant.bridge;

/**
 * What instrumented code asks the runtime for. The recorder returns the live value and logs it;
 * the replayer returns the logged value. Lives on the boot class path (JDK code calls it), so it
 * may reference java.base types only; the runtime that implements it lives in the agent's own
 * class loader.
 */
public interface Determinants {
    /** A clock read or seed: {@code live} is what the real source gave. */
    long value(ThreadState t, int kind, long live);

    /** Two values read together (an Instant: seconds and nanos). Returns {seconds, nanos}. */
    long[] pair(ThreadState t, int kind, long a, long b);

    /** Bytes produced into {@code buf[off, off+len)}: logged, or overwritten with the logged bytes. */
    void bytes(ThreadState t, int kind, byte[] buf, int off, int len);

    /** True if this thread's determinants come from the log (waits are answered, not waited out). */
    default boolean replaying(ThreadState t) {
        return false;
    }
}
