package dev.revenant.log;

/**
 * What the writer notes about one force that moved the stable position: written into the log as
 * a small metadata document right after the stable mark (see {@link SegmentScanner} for its
 * layout), and kept in memory for live monitoring.
 *
 * @param stablePosition   the position the force made stable
 * @param appendedPosition the highest position handed out by {@code append} when the force ended
 *                         ({@code appendedPosition - stablePosition} records were still waiting)
 * @param wallMillis       wall-clock time when the force ended
 * @param forceNanos       how long the {@code fdatasync} took
 * @param lagNanos         how long the oldest record it made stable had been written (0 if unknown)
 */
public record ForceTiming(long stablePosition, long appendedPosition, long wallMillis, long forceNanos,
                          long lagNanos) {

    /**
     * Upper bounds (inclusive, in microseconds) of the force-latency histogram buckets used by the
     * writer's live counters, the agent's MBean and {@code revenant stats}; one more bucket holds
     * everything slower than the last bound.
     */
    public static final long[] BUCKET_BOUNDS_MICROS = {
        100, 250, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000,
    };

    /** Index of the histogram bucket for a force of {@code nanos}. */
    public static int bucket(long nanos) {
        long micros = nanos / 1_000;
        for (int i = 0; i < BUCKET_BOUNDS_MICROS.length; i++) {
            if (micros <= BUCKET_BOUNDS_MICROS[i]) {
                return i;
            }
        }
        return BUCKET_BOUNDS_MICROS.length;
    }

    /** Label of bucket {@code i}: {@code <=100us}, ..., {@code >1s}. */
    public static String bucketLabel(int i) {
        if (i >= BUCKET_BOUNDS_MICROS.length) {
            return ">" + micros(BUCKET_BOUNDS_MICROS[BUCKET_BOUNDS_MICROS.length - 1]);
        }
        return "<=" + micros(BUCKET_BOUNDS_MICROS[i]);
    }

    private static String micros(long us) {
        if (us >= 1_000_000 && us % 1_000_000 == 0) {
            return us / 1_000_000 + "s";
        }
        if (us >= 1_000 && us % 1_000 == 0) {
            return us / 1_000 + "ms";
        }
        return us + "us";
    }

    /**
     * The smallest bucket bound at or above the {@code q}-quantile of a histogram, in microseconds
     * (-1 if the histogram is empty; the last bound times two for the open-ended bucket).
     */
    public static long quantileMicros(long[] histogram, double q) {
        long total = 0;
        for (long n : histogram) {
            total += n;
        }
        if (total == 0) {
            return -1;
        }
        long want = (long) Math.ceil(q * total);
        long seen = 0;
        for (int i = 0; i < histogram.length; i++) {
            seen += histogram[i];
            if (seen >= want && histogram[i] > 0) {
                return i < BUCKET_BOUNDS_MICROS.length ? BUCKET_BOUNDS_MICROS[i]
                        : BUCKET_BOUNDS_MICROS[BUCKET_BOUNDS_MICROS.length - 1] * 2;
            }
        }
        return BUCKET_BOUNDS_MICROS[BUCKET_BOUNDS_MICROS.length - 1] * 2;
    }
}
