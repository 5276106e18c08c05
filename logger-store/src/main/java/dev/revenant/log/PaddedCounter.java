package dev.revenant.log;

import java.util.concurrent.atomic.AtomicLong;

/** A counter on its own cache lines: producers hammer it, the writer reads its neighbours. */
final class PaddedCounter {
    @SuppressWarnings("unused")
    private long p1, p2, p3, p4, p5, p6, p7;
    private final AtomicLong value = new AtomicLong();
    @SuppressWarnings("unused")
    private long q1, q2, q3, q4, q5, q6, q7;

    long getAndIncrement() {
        return value.getAndIncrement();
    }

    long get() {
        return value.get();
    }
}
