package dev.revenant.agent.cli;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.revenant.log.ForceTiming;
import dev.revenant.log.LogHeader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.RecordTypes;

/**
 * The estimated wall time of each record, as {@code stats} dates them (see {@link StatsCommand.Timeline}):
 * fed the records and force timings in file order, it answers for the record just taken in. Used
 * by {@code inspect --since/--until}.
 */
final class RecordClock {
    private final Map<Integer, StatsCommand.Timeline> byEpoch = new HashMap<>();
    private ForceTiming lastTiming;

    void timing(ForceTiming t) {
        if (lastTiming == null || t.wallMillis() >= lastTiming.wallMillis()) {
            lastTiming = t;
        }
    }

    /** Takes a record in; its estimated wall time in ms, or -1 if its session's start is unknown. */
    long add(LogRecord r) {
        StatsCommand.Timeline t = byEpoch.computeIfAbsent(r.epoch(), e -> new StatsCommand.Timeline());
        if (r.type() == RecordTypes.HEADER) {
            try {
                t.header(LogHeader.decode(r.payload()).startedAtMillis());
            } catch (RuntimeException e) {
                // undecodable: the verifier reports it
            }
        } else if (r.type() == RecordTypes.CLOCK) {
            t.clock(Decoded.of(r), null);
        }
        if (lastTiming != null && lastTiming.appendedPosition() < r.position() && t.start >= 0) {
            t.forcedBefore(lastTiming.wallMillis());
        }
        return t.start < 0 ? -1 : t.now;
    }

    /** Start (header wall time) of the session a record belongs to; -1 if unknown. */
    long sessionStart(int epoch) {
        StatsCommand.Timeline t = byEpoch.get(epoch);
        return t == null ? -1 : t.start;
    }

    /** A time bound: an ISO-8601 instant, or {@code +N} ms/s/min/h after the start of each record's session. */
    record Bound(long absoluteMillis, long relativeMillis) {
        private static final Pattern RELATIVE = Pattern.compile("\\+(\\d+)(ms|s|m|min|h)?");

        static Bound parse(String s) {
            Matcher m = RELATIVE.matcher(s.trim());
            if (m.matches()) {
                long n = Long.parseLong(m.group(1));
                String unit = m.group(2) == null ? "s" : m.group(2);
                long ms = switch (unit) {
                    case "ms" -> n;
                    case "m", "min" -> n * 60_000;
                    case "h" -> n * 3_600_000;
                    default -> n * 1000;
                };
                return new Bound(-1, ms);
            }
            try {
                return new Bound(Instant.parse(s.trim()).toEpochMilli(), -1);
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException("'" + s + "' is neither an instant like 2026-11-27T06:53:07Z nor "
                        + "a time after the session's start like +30s, +500ms, +5m or +1h");
            }
        }

        /** The bound in wall-clock ms for a record of a session that started at {@code start}. */
        long at(long start) {
            return absoluteMillis >= 0 ? absoluteMillis : start < 0 ? -1 : start + relativeMillis;
        }
    }
}
