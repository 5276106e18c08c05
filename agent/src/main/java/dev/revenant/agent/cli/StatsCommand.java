package dev.revenant.agent.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

import dev.revenant.bridge.Hooks;
import dev.revenant.bridge.NetHooks;
import dev.revenant.log.ForceTiming;
import dev.revenant.log.LogHeader;
import dev.revenant.log.LogIssue;
import dev.revenant.log.LogRecord;
import dev.revenant.log.LogSegments;
import dev.revenant.log.LogVerifier;
import dev.revenant.log.RecordDescriptor;
import dev.revenant.log.RecordTypes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code revenant stats}: what a log holds and costs, summed up for an operator. */
@Command(name = "stats", mixinStandardHelpOptions = true,
        description = {"Sums up a log: its sessions (epochs) with start time, records and rate; size on disk "
                + "(allocated blocks: segments are sparse files); records and bytes by type; records per second over "
                + "time; the stable watermark and how far the log runs past it; torn bytes a crash left per session; "
                + "the servers bound and the connections accepted, with the bytes read from each; the writer's "
                + "force timings (latency histogram, records and time waiting to become stable at each force); "
                + "checkpoints.",
                "Time of a record: the latest of its session's start (the header's wall time) and the clock readings "
                        + "the app made before it in that session (currentTimeMillis, Clock.millis and Instant as "
                        + "they are; System.nanoTime as time elapsed since the first one), and the end of the last "
                        + "force the writer timed before the record was appended. Records of an app that reads no "
                        + "clock, in a log without force timings, all count at their session's start."},
        footerHeading = "%n",
        footer = "Exit codes: 0 ok; 1 the log holds damage (the numbers cover the intact records; where is printed); "
                + "2 usage, or the directory is not a log.")
public final class StatsCommand implements Callable<Integer> {
    /** Bucket widths the automatic choice picks from, in seconds. */
    private static final long[] LADDER = {1, 10, 60, 600, 3600, 6 * 3600, 86400, 7 * 86400};
    /** At most this many buckets when the width is chosen automatically. */
    private static final int MAX_BUCKETS = 40;
    /** Distinct buckets kept while reading before they are merged into wider ones. */
    private static final int MAX_KEPT = 20_000;

    @Spec
    CommandSpec spec;

    @Mixin
    LogOptions log;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Option(names = "--bucket", paramLabel = "SECONDS",
            description = "Width of the records-per-second buckets (default: chosen so that at most "
                    + MAX_BUCKETS + " cover the log).")
    Long bucketSeconds;

    @Option(names = "--top", paramLabel = "N",
            description = "List the N connections that sent the most bytes (default 20; 0: all).")
    int top = 20;

    /** One writer session, i.e. one epoch. */
    static final class Session {
        final int epoch;
        LogHeader header;
        boolean continues;
        long records;
        long first = -1;
        long last = -1;
        long payloadBytes;
        final Timeline time = new Timeline();
        int segments;
        long allocated;
        long apparent;
        long tornBytes;

        Session(int epoch) {
            this.epoch = epoch;
        }

        /** Records per second from the session's start to its last known time; -1 if unknown. */
        double rate() {
            long span = time.last - time.start;
            return time.start < 0 || span <= 0 ? -1 : records * 1000.0 / span;
        }
    }

    /**
     * The estimated wall time (ms) at each record of a session: moved forward by the header's
     * start time and by the app's clock readings, never backward.
     */
    static final class Timeline {
        long start = -1;
        long now = -1;
        long last = -1;
        private long nanoAnchor;
        private long nanoAnchorWall = -1;

        void header(long millis) {
            start = millis;
            advance(millis);
        }

        /** Takes in a CLOCK record of this session. */
        void clock(Decoded d, Stats s) {
            if (s == null) {
                s = new Stats();
            }
            if (d.value == null) {
                return;
            }
            switch (d.kindCode) {
                case Hooks.CURRENT_MILLIS, Hooks.CLOCK_MILLIS -> {
                    wall(d.value);
                    s.wallReadings++;
                }
                case Hooks.INSTANT -> {
                    if (d.value2 != null) {
                        wall(d.value * 1000 + d.value2 / 1_000_000);
                        s.wallReadings++;
                    }
                }
                case Hooks.NANO_TIME -> {
                    s.nanoReadings++;
                    if (nanoAnchorWall < 0) {
                        if (now >= 0) {
                            nanoAnchor = d.value;
                            nanoAnchorWall = now;
                        }
                    } else {
                        advance(nanoAnchorWall + (d.value - nanoAnchor) / 1_000_000);
                    }
                }
                default -> { }
            }
        }

        /**
         * A force the writer timed at {@code millis} had handed out positions only below this
         * record's: the record was appended after that moment.
         */
        void forcedBefore(long millis) {
            advance(millis);
        }

        private void wall(long millis) {
            advance(millis);
            nanoAnchorWall = -1; // the next nanoTime reading is measured from here
        }

        private void advance(long millis) {
            if (millis > now) {
                now = millis;
            }
            last = Math.max(last, now);
        }
    }

    /** A server socket bound, or a connection accepted, in one run (a run begins anew with a fresh start). */
    static final class Conn {
        final int run;
        final long conn;
        final int epoch;
        boolean server;
        Long serverConn;
        String address;
        long reads;
        long bytesRead;
        boolean endOfStream;
        boolean failed;

        Conn(int run, long conn, int epoch) {
            this.run = run;
            this.conn = conn;
            this.epoch = epoch;
        }
    }

    /** Everything gathered in one pass. */
    static final class Stats {
        final Map<Integer, Session> sessions = new TreeMap<>();
        final Map<Integer, long[]> types = new TreeMap<>(); // type -> {records, payload bytes}
        final Map<String, Conn> conns = new LinkedHashMap<>();
        final TreeMap<Long, Long> buckets = new TreeMap<>(); // bucket start (s) -> records
        long resolution = LADDER[0];
        long wallReadings;
        long nanoReadings;
        long timed;
        int run = -1;
        long checkpoints;
        // From the writer's force timings (logs written before they were noted have none).
        ForceTiming lastTiming;
        long forces;
        final long[] forceHistogram = new long[ForceTiming.BUCKET_BOUNDS_MICROS.length + 1];
        long forceNanosMax;
        long forceNanosTotal;
        long lagRecordsMax;
        long lagRecordsTotal;
        long lagNanosMax;
        long lagNanosTotal;
        long timedByForces;

        void timing(ForceTiming t) {
            forces++;
            forceHistogram[ForceTiming.bucket(t.forceNanos())]++;
            forceNanosMax = Math.max(forceNanosMax, t.forceNanos());
            forceNanosTotal += t.forceNanos();
            long lagRecords = Math.max(0, t.appendedPosition() - t.stablePosition());
            lagRecordsMax = Math.max(lagRecordsMax, lagRecords);
            lagRecordsTotal += lagRecords;
            lagNanosMax = Math.max(lagNanosMax, t.lagNanos());
            lagNanosTotal += t.lagNanos();
            if (lastTiming == null || t.wallMillis() >= lastTiming.wallMillis()) {
                lastTiming = t;
            }
        }

        void add(LogRecord r) {
            Session s = sessions.computeIfAbsent(r.epoch(), Session::new);
            s.records++;
            s.payloadBytes += r.payload().length;
            if (s.first < 0) {
                s.first = r.position();
            }
            s.last = r.position();
            long[] t = types.computeIfAbsent(r.type(), k -> new long[2]);
            t[0]++;
            t[1] += r.payload().length;
            switch (r.type()) {
                case RecordTypes.HEADER -> {
                    try {
                        s.header = LogHeader.decode(r.payload());
                        s.time.header(s.header.startedAtMillis());
                    } catch (RuntimeException e) {
                        // the verifier reports an undecodable header as damage
                    }
                }
                case RecordTypes.ENVIRONMENT -> run = r.epoch();
                case RecordTypes.CONTINUES -> s.continues = true;
                case RecordTypes.CHECKPOINT -> checkpoints++;
                case RecordTypes.CLOCK -> s.time.clock(Decoded.of(r), this);
                case RecordTypes.SOCKET_ACCEPT, RecordTypes.SOCKET_READ -> socket(r, Decoded.of(r));
                default -> { }
            }
            if (lastTiming != null && lastTiming.appendedPosition() < r.position() && s.time.start >= 0
                    && lastTiming.wallMillis() > s.time.now) {
                s.time.forcedBefore(lastTiming.wallMillis());
                timedByForces++;
            }
            if (s.time.now >= 0) {
                timed++;
                bucket(s.time.now / 1000);
            }
        }

        private void socket(LogRecord r, Decoded d) {
            if (d.conn == null || d.error != null && d.kindCode != NetHooks.READ) {
                return;
            }
            int inRun = run < 0 ? r.epoch() : run;
            switch (d.kindCode) {
                case NetHooks.BIND -> {
                    Conn c = conns.computeIfAbsent(inRun + ":" + d.conn, k -> new Conn(inRun, d.conn, r.epoch()));
                    c.server = true;
                    c.address = d.address;
                }
                case NetHooks.ACCEPT -> {
                    if (d.conn >= 0) {
                        Conn c = conns.computeIfAbsent(inRun + ":" + d.conn, k -> new Conn(inRun, d.conn, r.epoch()));
                        c.serverConn = d.serverConn;
                        c.address = d.address;
                    }
                }
                case NetHooks.READ -> {
                    Conn c = conns.computeIfAbsent(inRun + ":" + d.conn, k -> new Conn(inRun, d.conn, r.epoch()));
                    c.reads++;
                    if (d.count != null && d.count > 0) {
                        c.bytesRead += d.count;
                    } else if (d.count != null && d.count == Decoded.NONE) {
                        c.endOfStream = true;
                    } else if (d.count != null && d.count == Decoded.FAILED) {
                        c.failed = true;
                    }
                }
                default -> { }
            }
        }

        private void bucket(long second) {
            buckets.merge(Math.floorDiv(second, resolution) * resolution, 1L, Long::sum);
            if (buckets.size() > MAX_KEPT) {
                coarsen();
            }
        }

        private void coarsen() {
            for (long w : LADDER) {
                if (w > resolution) {
                    resolution = w;
                    break;
                }
            }
            TreeMap<Long, Long> merged = new TreeMap<>();
            buckets.forEach((k, v) -> merged.merge(Math.floorDiv(k, resolution) * resolution, v, Long::sum));
            buckets.clear();
            buckets.putAll(merged);
        }
    }

    @Override
    public Integer call() throws IOException {
        if (bucketSeconds != null && bucketSeconds <= 0) {
            throw new ParameterException(spec.commandLine(), "--bucket must be a positive number of seconds");
        }
        if (top < 0) {
            throw new ParameterException(spec.commandLine(), "--top must be 0 or more");
        }
        Stats st = new Stats();
        LogVerifier.Report report = VerifyCommand.read(spec, log, "stats", st::add, st::timing);
        if (report == null) {
            return RevenantCli.EXIT_USAGE;
        }
        for (LogHeader h : report.sessions()) {
            st.sessions.computeIfAbsent(h.epoch(), Session::new).header = h;
        }
        DiskUsage du = DiskUsage.of(report.directory());
        Map<Path, Session> bySegment = segments(report, st, du);
        for (LogIssue i : report.tornTails()) {
            Session s = i.segment() == null ? null : bySegment.get(i.segment());
            if (s != null) {
                s.tornBytes += i.droppedBytes();
            }
        }
        long width = width(st);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(json(report, st, du, width));
        } else {
            text(out, report, st, du, width);
        }
        return report.sound() ? RevenantCli.EXIT_OK : RevenantCli.EXIT_PROBLEM;
    }

    /**
     * Each segment belongs to the session of its first record (a session starts a new segment and
     * may roll into more); a segment with no intact record to the session before it.
     */
    private static Map<Path, Session> segments(LogVerifier.Report report, Stats st, DiskUsage du) throws IOException {
        Map<Path, Session> bySegment = new LinkedHashMap<>();
        Session previous = null;
        for (Path seg : report.segments()) {
            LogRecord first = LogSegments.firstRecord(seg);
            Session s = first != null ? st.sessions.computeIfAbsent(first.epoch(), Session::new) : previous;
            if (s == null) {
                continue;
            }
            bySegment.put(seg, s);
            s.segments++;
            s.apparent += Files.size(seg);
            s.allocated += Math.max(0, du.bytesOf(seg));
            previous = s;
        }
        return bySegment;
    }

    private long width(Stats st) {
        if (bucketSeconds != null) {
            return Math.max(bucketSeconds, st.resolution);
        }
        if (st.buckets.isEmpty()) {
            return st.resolution;
        }
        long span = st.buckets.lastKey() - st.buckets.firstKey();
        for (long w : LADDER) {
            if (w >= st.resolution && span / w + 1 <= MAX_BUCKETS) {
                return w;
            }
        }
        return LADDER[LADDER.length - 1];
    }

    /** Bucket start (s) to records, at the display width, empty buckets in between included. */
    private static TreeMap<Long, Long> rebucket(Stats st, long width) {
        TreeMap<Long, Long> out = new TreeMap<>();
        st.buckets.forEach((k, v) -> out.merge(Math.floorDiv(k, width) * width, v, Long::sum));
        if (!out.isEmpty() && (out.lastKey() - out.firstKey()) / width <= 10_000) {
            for (long k = out.firstKey(); k < out.lastKey(); k += width) {
                out.putIfAbsent(k, 0L);
            }
        }
        return out;
    }

    private static String timeSource(Stats st) {
        long starts = st.sessions.values().stream().filter(s -> s.time.start >= 0).count();
        return "the latest of the session's start (" + starts + " header time(s)), the clock readings before the "
                + "record (" + st.wallReadings + " wall-clock, " + st.nanoReadings + " System.nanoTime) and the end of "
                + "the last force the writer timed before it was appended (" + st.forces + " timed force(s), which "
                + "moved " + st.timedByForces + " record time(s))";
    }

    private List<Conn> topConnections(Stats st) {
        List<Conn> l = new ArrayList<>(st.conns.values().stream().filter(c -> !c.server).toList());
        l.sort(Comparator.comparingLong((Conn c) -> -c.bytesRead).thenComparingInt(c -> c.run)
                .thenComparingLong(c -> c.conn));
        return top == 0 || l.size() <= top ? l : l.subList(0, top);
    }

    private void text(PrintWriter out, LogVerifier.Report r, Stats st, DiskUsage du, long width) {
        out.printf("log %s: %d records, positions %d..%d, %d segment(s), %d session(s)%n", r.directory(), r.records(),
                r.firstPosition(), r.lastPosition(), r.segments().size(), st.sessions.size());
        long apparent = apparent(st);
        long dirAllocated = du.bytesOf(r.directory());
        out.printf("on disk: %s allocated for the whole directory, %s in segments (apparent size %s: segments are "
                + "sparse)%n", dirAllocated < 0 ? "unknown (" + du.problem + ")" : bytes(dirAllocated),
                du.allocated == null ? "unknown" : bytes(allocated(st)),
                bytes(apparent));
        long lag = r.stableWatermark() < 0 ? r.lastPosition() - r.firstPosition() + 1
                : Math.max(0, r.lastPosition() - r.stableWatermark());
        out.printf("stable watermark: %s, last position %d: %d record(s) past it (written, not reported stable)%n",
                r.stableWatermark() < 0 ? "none recorded" : Long.toString(r.stableWatermark()), r.lastPosition(), lag);
        out.println("sessions:");
        out.printf("  %-5s  %-24s  %-10s  %9s  %-15s  %10s  %8s  %10s  %s%n", "epoch", "started", "kind", "records",
                "positions", "rec/s", "segments", "allocated", "torn bytes dropped");
        for (Session s : st.sessions.values()) {
            out.printf("  %-5d  %-24s  %-10s  %9d  %-15s  %10s  %8d  %10s  %d%n", s.epoch,
                    s.time.start < 0 ? "?" : Instant.ofEpochMilli(s.time.start), kind(s), s.records,
                    s.records == 0 ? "-" : s.first + ".." + s.last, s.rate() < 0 ? "n/a" : decimal(s.rate(), 1),
                    s.segments, du.allocated == null ? "?" : bytes(s.allocated), s.tornBytes);
        }
        out.println("records by type:");
        out.printf("  %-14s %10s %14s %14s%n", "type", "records", "payload bytes", "record bytes");
        st.types.forEach((t, v) -> out.printf("  %-14s %10d %14d %14d%n", RecordTypes.name(t), v[0], v[1],
                v[1] + v[0] * RecordDescriptor.OVERHEAD));
        TreeMap<Long, Long> buckets = rebucket(st, width);
        out.printf("records per second, %s buckets (time of a record: %s; %d of %d records have one):%n",
                duration(width), timeSource(st), st.timed, r.records());
        buckets.forEach((k, v) -> out.printf(Locale.ROOT, "  %-24s %10d records %12.1f/s%n", Instant.ofEpochSecond(k), v,
                v / (double) width));
        if (st.forces == 0) {
            out.println("forces: none timed in this log (written before the writer noted force timings)");
        } else {
            out.printf(Locale.ROOT, "forces (timed by the writer): %d, latency mean %.3f ms, max %.3f ms, p50 <= %s, "
                    + "p99 <= %s%n", st.forces, st.forceNanosTotal / 1e6 / st.forces, st.forceNanosMax / 1e6,
                    micros(ForceTiming.quantileMicros(st.forceHistogram, 0.5)),
                    micros(ForceTiming.quantileMicros(st.forceHistogram, 0.99)));
            for (int i = 0; i < st.forceHistogram.length; i++) {
                if (st.forceHistogram[i] > 0) {
                    out.printf("  %-8s %10d%n", ForceTiming.bucketLabel(i), st.forceHistogram[i]);
                }
            }
            out.printf(Locale.ROOT, "stable lag at each force: records appended not yet stable mean %.1f, max %d; "
                    + "oldest record's wait mean %.3f ms, max %.3f ms%n", st.lagRecordsTotal / (double) st.forces,
                    st.lagRecordsMax, st.lagNanosTotal / 1e6 / st.forces, st.lagNanosMax / 1e6);
        }
        out.println("checkpoints: " + (st.checkpoints == 0 ? "none (recovery replays the whole log)"
                : Long.toString(st.checkpoints)));
        List<Conn> servers = st.conns.values().stream().filter(c -> c.server).toList();
        out.println("servers bound (from SOCKET_ACCEPT bind records):" + (servers.isEmpty() ? " none" : ""));
        for (Conn c : servers) {
            out.printf("  conn %d  %s  (run of epoch %d, bound in epoch %d)%n", c.conn, c.address, c.run, c.epoch);
        }
        long accepted = st.conns.values().stream().filter(c -> !c.server).count();
        List<Conn> shown = topConnections(st);
        out.printf("connections accepted: %d%s%n", accepted,
                shown.size() < accepted ? " (the " + shown.size() + " that sent the most bytes below; --top)" : "");
        for (Conn c : shown) {
            out.printf("  conn %-6d from %-22s on conn %-4s epoch %-3d %6d read(s) %10d bytes read%s%n", c.conn,
                    c.address == null ? "?" : c.address, c.serverConn == null ? "?" : c.serverConn.toString(), c.epoch,
                    c.reads, c.bytesRead, c.endOfStream ? "  closed by the peer" : c.failed ? "  a read failed" : "");
        }
        for (LogIssue i : r.issues()) {
            out.println(i);
        }
    }

    private static String kind(Session s) {
        if (s.header == null) {
            return "?";
        }
        return s.continues ? "recovered" : "fresh";
    }

    private String json(LogVerifier.Report r, Stats st, DiskUsage du, long width) {
        StringBuilder sb = VerifyCommand.summaryJson(r);
        long lag = r.stableWatermark() < 0 ? r.lastPosition() - r.firstPosition() + 1
                : Math.max(0, r.lastPosition() - r.stableWatermark());
        sb.append(",\"lag\":").append(lag);
        long dirAllocated = du.bytesOf(r.directory());
        sb.append(",\"disk\":{\"allocatedBytes\":").append(dirAllocated < 0 ? "null" : Long.toString(dirAllocated))
                .append(",\"segmentAllocatedBytes\":").append(du.allocated == null ? "null"
                        : Long.toString(allocated(st)))
                .append(",\"segmentApparentBytes\":").append(apparent(st))
                .append(",\"problem\":").append(Json.str(du.problem)).append('}');
        sb.append(",\"sessions\":[");
        boolean first = true;
        for (Session s : st.sessions.values()) {
            sb.append(first ? "" : ",").append("{\"epoch\":").append(s.epoch)
                    .append(",\"startedAtMillis\":").append(s.time.start)
                    .append(",\"kind\":").append(Json.str(kind(s)))
                    .append(",\"records\":").append(s.records)
                    .append(",\"firstPosition\":").append(s.first)
                    .append(",\"lastPosition\":").append(s.last)
                    .append(",\"payloadBytes\":").append(s.payloadBytes)
                    .append(",\"lastTimeMillis\":").append(s.time.last)
                    .append(",\"recordsPerSecond\":").append(s.rate() < 0 ? "null" : decimal(s.rate(), 3))
                    .append(",\"segments\":").append(s.segments)
                    .append(",\"allocatedBytes\":").append(du.allocated == null ? "null" : Long.toString(s.allocated))
                    .append(",\"apparentBytes\":").append(s.apparent)
                    .append(",\"tornBytes\":").append(s.tornBytes)
                    .append(",\"previousDroppedBytes\":").append(s.header == null ? 0 : s.header.previousDroppedBytes())
                    .append('}');
            first = false;
        }
        sb.append("],\"types\":[");
        first = true;
        for (Map.Entry<Integer, long[]> e : st.types.entrySet()) {
            long[] v = e.getValue();
            sb.append(first ? "" : ",").append("{\"type\":").append(Json.str(RecordTypes.name(e.getKey())))
                    .append(",\"records\":").append(v[0]).append(",\"payloadBytes\":").append(v[1])
                    .append(",\"recordBytes\":").append(v[1] + v[0] * RecordDescriptor.OVERHEAD).append('}');
            first = false;
        }
        sb.append("],\"rate\":{\"timeSource\":").append(Json.str(timeSource(st)))
                .append(",\"timedRecords\":").append(st.timed)
                .append(",\"bucketSeconds\":").append(width).append(",\"buckets\":[");
        first = true;
        for (Map.Entry<Long, Long> e : rebucket(st, width).entrySet()) {
            sb.append(first ? "" : ",").append("{\"startMillis\":").append(e.getKey() * 1000)
                    .append(",\"records\":").append(e.getValue())
                    .append(",\"perSecond\":").append(decimal(e.getValue() / (double) width, 3))
                    .append('}');
            first = false;
        }
        sb.append("]},\"forces\":{\"timed\":").append(st.forces)
                .append(",\"bucketBoundsMicros\":").append(java.util.Arrays.toString(ForceTiming.BUCKET_BOUNDS_MICROS)
                        .replace(" ", ""))
                .append(",\"histogram\":").append(java.util.Arrays.toString(st.forceHistogram).replace(" ", ""))
                .append(",\"meanMillis\":").append(st.forces == 0 ? "null" : decimal(st.forceNanosTotal / 1e6 / st.forces, 3))
                .append(",\"maxMillis\":").append(st.forces == 0 ? "null" : decimal(st.forceNanosMax / 1e6, 3))
                .append(",\"p50Micros\":").append(ForceTiming.quantileMicros(st.forceHistogram, 0.5))
                .append(",\"p99Micros\":").append(ForceTiming.quantileMicros(st.forceHistogram, 0.99))
                .append("},\"stableLag\":{\"lastPosition\":").append(r.lastPosition())
                .append(",\"stableWatermark\":").append(r.stableWatermark())
                .append(",\"recordsPastWatermark\":").append(lag)
                .append(",\"timedForces\":").append(st.forces)
                .append(",\"meanRecords\":").append(st.forces == 0 ? "null"
                        : decimal(st.lagRecordsTotal / (double) st.forces, 3))
                .append(",\"maxRecords\":").append(st.forces == 0 ? "null" : Long.toString(st.lagRecordsMax))
                .append(",\"meanMillis\":").append(st.forces == 0 ? "null" : decimal(st.lagNanosTotal / 1e6 / st.forces, 3))
                .append(",\"maxMillis\":").append(st.forces == 0 ? "null" : decimal(st.lagNanosMax / 1e6, 3))
                .append("},\"checkpoints\":").append(st.checkpoints);
        sb.append(",\"servers\":[");
        first = true;
        for (Conn c : st.conns.values()) {
            if (c.server) {
                sb.append(first ? "" : ",").append("{\"run\":").append(c.run).append(",\"conn\":").append(c.conn)
                        .append(",\"epoch\":").append(c.epoch).append(",\"address\":").append(Json.str(c.address))
                        .append('}');
                first = false;
            }
        }
        List<Conn> shown = topConnections(st);
        sb.append("],\"connections\":{\"accepted\":").append(st.conns.values().stream().filter(c -> !c.server).count())
                .append(",\"list\":[");
        first = true;
        for (Conn c : shown) {
            sb.append(first ? "" : ",").append("{\"run\":").append(c.run).append(",\"conn\":").append(c.conn)
                    .append(",\"epoch\":").append(c.epoch)
                    .append(",\"serverConn\":").append(c.serverConn == null ? "null" : c.serverConn.toString())
                    .append(",\"from\":").append(Json.str(c.address))
                    .append(",\"reads\":").append(c.reads).append(",\"bytesRead\":").append(c.bytesRead)
                    .append(",\"endOfStream\":").append(c.endOfStream).append(",\"readFailed\":").append(c.failed)
                    .append('}');
            first = false;
        }
        return sb.append("]}}").toString();
    }

    private static long allocated(Stats st) {
        return st.sessions.values().stream().mapToLong(s -> s.allocated).sum();
    }

    private static long apparent(Stats st) {
        return st.sessions.values().stream().mapToLong(s -> s.apparent).sum();
    }

    /** A number with a decimal point whatever the locale (JSON needs one, and so do scripts reading text). */
    private static String decimal(double v, int digits) {
        return String.format(Locale.ROOT, "%." + digits + "f", v);
    }

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    private static String micros(long us) {
        if (us < 0) {
            return "n/a";
        }
        return us >= 1000 ? decimal(us / 1000.0, 1) + " ms" : us + " us";
    }

    private static String duration(long seconds) {
        if (seconds % 86400 == 0) {
            return seconds / 86400 + " d";
        }
        if (seconds % 3600 == 0) {
            return seconds / 3600 + " h";
        }
        if (seconds % 60 == 0) {
            return seconds / 60 + " min";
        }
        return seconds + " s";
    }
}
