package dev.revenant.agent.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

import dev.revenant.bridge.NetHooks;
import dev.revenant.log.LogHeader;
import dev.revenant.log.LogIssue;
import dev.revenant.log.LogRecord;
import dev.revenant.log.LogVerifier;
import dev.revenant.log.RecordTypes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code revenant inspect}: what a log holds, readable. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Prints a log: its sessions (one per epoch: when it started, its records and positions, the "
                + "app fingerprint of its header), counts per record type and per thread, then one line per record.",
                "Filters narrow the record lines; the counts always cover the whole log."},
        footerHeading = "%n",
        footer = "Exit codes: 0 ok; 1 the log holds damage (records up to it are still printed); "
                + "2 usage, or the directory is not a log.")
public final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LogOptions log;

    @Option(names = "--json", description = "Print one JSON object: sessions, counts, records, issues.")
    boolean json;

    @Option(names = "--type", paramLabel = "TYPE", split = ",",
            description = "Only records of these types (names like CLOCK or numeric codes).")
    List<String> types = new ArrayList<>();

    @Option(names = "--thread", paramLabel = "ID", split = ",", description = "Only records of these threads.")
    List<Long> threads = new ArrayList<>();

    @Option(names = "--from", paramLabel = "POS", description = "First position to print (default: the start).")
    long from = Long.MIN_VALUE;

    @Option(names = "--to", paramLabel = "POS", description = "Last position to print (default: the end).")
    long to = Long.MAX_VALUE;

    @Option(names = "--no-records", description = "Print only the summary.")
    boolean noRecords;

    @Option(names = "--conn", paramLabel = "N", split = ",",
            description = "Only records about these connections: the bind or accept that made them, accepts on "
                    + "them, their reads and short writes, and the selector ready sets that name them.")
    List<Long> conns = new ArrayList<>();

    @Option(names = "--epoch", paramLabel = "E", split = ",",
            description = "Only records written in these epochs (one per writer session; a recovery starts the "
                    + "next).")
    List<Integer> epochs = new ArrayList<>();

    @Option(names = "--since", paramLabel = "TIME",
            description = "Only records at or after TIME: an instant (2026-11-27T06:53:07Z) or a time after the start "
                    + "of the record's session (+30s, +500ms, +5m, +1h). A record's time is estimated as stats does it "
                    + "(session start, the app's clock readings, the writer's force timings); records without one "
                    + "are left out when a time filter is given.")
    String since;

    @Option(names = "--until", paramLabel = "TIME", description = "Only records at or before TIME (as --since).")
    String until;

    @Option(names = "--hex", description = "Show payload bytes (socket data, random bytes, notes) as hex instead "
            + "of escaped text.")
    boolean hex;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        List<Integer> typeCodes = new ArrayList<>();
        for (String t : types) {
            int c = RecordTypes.code(t);
            if (c < 0) {
                throw new ParameterException(spec.commandLine(), "unknown record type '" + t + "'; known: "
                        + String.join(", ", RecordTypes.all().values()));
            }
            typeCodes.add(c);
        }
        if (from > to) {
            throw new ParameterException(spec.commandLine(), "--from " + from + " is after --to " + to);
        }
        RecordClock.Bound sinceBound = bound("--since", since);
        RecordClock.Bound untilBound = bound("--until", until);
        RecordClock clock = new RecordClock();
        List<String> lines = new ArrayList<>();
        Map<Integer, EpochSpan> spans = new TreeMap<>();
        LogVerifier.Report report = VerifyCommand.read(spec, log, "inspect", r -> {
            spans.computeIfAbsent(r.epoch(), e -> new EpochSpan()).add(r);
            long time = clock.add(r);
            if (!noRecords && r.position() >= from && r.position() <= to
                    && inTime(time, clock.sessionStart(r.epoch()), sinceBound, untilBound)
                    && (typeCodes.isEmpty() || typeCodes.contains(r.type()))
                    && (threads.isEmpty() || threads.contains(r.thread()))
                    && (epochs.isEmpty() || epochs.contains(r.epoch()))
                    && (conns.isEmpty() || namesAny(r, conns))) {
                lines.add(json ? recordJson(r, hex, time) : recordLine(r, hex));
            }
        }, clock::timing);
        if (report == null) {
            return RevenantCli.EXIT_USAGE;
        }
        if (json) {
            printJson(out, report, spans, lines);
        } else {
            printText(out, report, spans, lines);
        }
        return report.sound() ? RevenantCli.EXIT_OK : RevenantCli.EXIT_PROBLEM;
    }

    private RecordClock.Bound bound(String option, String value) {
        try {
            return value == null ? null : RecordClock.Bound.parse(value);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), option + " " + e.getMessage());
        }
    }

    private static boolean inTime(long time, long start, RecordClock.Bound since, RecordClock.Bound until) {
        if (since == null && until == null) {
            return true;
        }
        if (time < 0) {
            return false;
        }
        return (since == null || time >= since.at(start)) && (until == null || time <= until.at(start));
    }

    /** Records, first and last position of one epoch, gathered while reading. */
    static final class EpochSpan {
        long records;
        long first = -1;
        long last = -1;

        void add(LogRecord r) {
            records++;
            if (first < 0) {
                first = r.position();
            }
            last = r.position();
        }

        String text() {
            return records == 0 ? "no intact records" : records + " records, positions " + first + ".." + last;
        }
    }

    private static boolean namesAny(LogRecord r, List<Long> conns) {
        if (!Decoded.isDeterminant(r.type())) {
            return false;
        }
        Decoded d = Decoded.of(r);
        for (long c : conns) {
            if (d.names(c)) {
                return true;
            }
        }
        return false;
    }

    private static void printText(PrintWriter out, LogVerifier.Report r, Map<Integer, EpochSpan> spans,
            List<String> lines) {
        out.printf("log %s: %d records, positions %d..%d, %d segment(s)%n", r.directory(), r.records(),
                r.firstPosition(), r.lastPosition(), r.segments().size());
        out.printf("stable watermark: %s%n", r.stableWatermark() < 0 ? "none recorded" : r.stableWatermark());
        out.println("sessions:");
        for (LogHeader h : r.sessions()) {
            EpochSpan span = spans.getOrDefault(h.epoch(), new EpochSpan());
            out.printf("  epoch %d  started %s  %s  format %d  main %s  classpath %s  jvm %s  agent %s%s%s%n", h.epoch(),
                    java.time.Instant.ofEpochMilli(h.startedAtMillis()), span.text(), h.formatVersion(),
                    h.fingerprint().mainClass(),
                    abbreviate(h.fingerprint().classPathHash()), h.fingerprint().jvmVersion(),
                    h.fingerprint().agentVersion(),
                    h.fingerprint().vmFlags().isEmpty() ? "" : "  flags " + h.fingerprint().vmFlags(),
                    h.previousEnd() >= 0 ? "  (after position " + h.previousEnd() + ", "
                            + h.previousDroppedBytes() + " torn bytes dropped)" : "");
        }
        out.println("records by type:");
        for (Map.Entry<Integer, Long> e : r.countsByType().entrySet()) {
            out.printf("  %-14s %d%n", RecordTypes.name(e.getKey()), e.getValue());
        }
        out.println("records by thread:");
        for (Map.Entry<Long, Long> e : r.countsByThread().entrySet()) {
            out.printf("  %-14d %d%n", e.getKey(), e.getValue());
        }
        for (LogIssue i : r.issues()) {
            out.println(i);
        }
        if (!lines.isEmpty()) {
            out.println("records:");
            lines.forEach(out::println);
        }
    }

    private static void printJson(PrintWriter out, LogVerifier.Report r, Map<Integer, EpochSpan> spans,
            List<String> lines) {
        StringBuilder sb = VerifyCommand.summaryJson(r);
        sb.append(",\"sessions\":[");
        for (int i = 0; i < r.sessions().size(); i++) {
            LogHeader h = r.sessions().get(i);
            sb.append(i == 0 ? "" : ",").append("{\"epoch\":").append(h.epoch())
                    .append(",\"format\":").append(h.formatVersion())
                    .append(",\"startedAtMillis\":").append(h.startedAtMillis())
                    .append(",\"mainClass\":").append(Json.str(h.fingerprint().mainClass()))
                    .append(",\"classPathHash\":").append(Json.str(h.fingerprint().classPathHash()))
                    .append(",\"jvmVersion\":").append(Json.str(h.fingerprint().jvmVersion()))
                    .append(",\"agentVersion\":").append(Json.str(h.fingerprint().agentVersion()))
                    .append(",\"vmFlags\":").append(Json.str(h.fingerprint().vmFlags()))
                    .append(",\"previousEnd\":").append(h.previousEnd())
                    .append(",\"previousDroppedBytes\":").append(h.previousDroppedBytes());
            EpochSpan span = spans.getOrDefault(h.epoch(), new EpochSpan());
            sb.append(",\"records\":").append(span.records).append(",\"firstPosition\":").append(span.first)
                    .append(",\"lastPosition\":").append(span.last).append('}');
        }
        sb.append("],\"countsByType\":{");
        boolean first = true;
        for (Map.Entry<Integer, Long> e : r.countsByType().entrySet()) {
            sb.append(first ? "" : ",").append(Json.str(RecordTypes.name(e.getKey()))).append(':').append(e.getValue());
            first = false;
        }
        sb.append("},\"countsByThread\":{");
        first = true;
        for (Map.Entry<Long, Long> e : r.countsByThread().entrySet()) {
            sb.append(first ? "" : ",").append(Json.str(e.getKey().toString())).append(':').append(e.getValue());
            first = false;
        }
        sb.append("}");
        sb.append(",\"recordList\":[");
        out.print(sb);
        for (int i = 0; i < lines.size(); i++) {
            out.print(i == 0 ? "" : ",");
            out.print(lines.get(i));
        }
        out.println("]}");
    }

    static String recordLine(LogRecord r) {
        return recordLine(r, false);
    }

    /** One record as a text line: position, type, epoch, thread, sequence, size, decoded payload. */
    static String recordLine(LogRecord r, boolean hex) {
        return String.format("%10d  %-13s epoch=%d thread=%d seq=%d  %dB  %s", r.position(), r.typeName(), r.epoch(),
                r.thread(), r.threadSeq(), r.payload().length, preview(r, hex));
    }

    static String recordJson(LogRecord r) {
        return recordJson(r, false);
    }

    /**
     * One record as a JSON object; {@code payload} is the raw payload (escaped text, or hex), and
     * {@code summary} the decoded line {@link #recordLine} ends with.
     */
    static String recordJson(LogRecord r, boolean hex) {
        return recordJson(r, hex, Long.MIN_VALUE);
    }

    /** As {@link #recordJson(LogRecord, boolean)}, with the record's estimated time ({@code timeMillis}, null if unknown). */
    static String recordJson(LogRecord r, boolean hex, long timeMillis) {
        return "{\"position\":" + r.position() + ",\"type\":" + Json.str(r.typeName()) + ",\"epoch\":" + r.epoch()
                + ",\"thread\":" + r.thread() + ",\"threadSeq\":" + r.threadSeq() + ",\"length\":" + r.payload().length
                + ",\"payload\":" + Json.str(hex ? hex(r.payload(), 4096) : escaped(r.payload(), 4096))
                + ",\"summary\":" + Json.str(preview(r, hex))
                + (timeMillis == Long.MIN_VALUE ? "" : ",\"timeMillis\":" + (timeMillis < 0 ? "null" : timeMillis))
                + "}";
    }

    private static String preview(LogRecord r, boolean hex) {
        Decoded d = Decoded.of(r);
        if (!hex || d.data == null || r.type() == RecordTypes.HEADER) {
            return d.summary;
        }
        if (d.kindCode < 0) {
            return hex(d.data, 64); // environment, notes: the whole payload
        }
        if (d.kindCode == NetHooks.READ && d.conn != null) {
            return "read conn " + d.conn + ": " + d.count + " bytes " + hex(d.data, 48);
        }
        return d.kind + " (" + d.data.length + " bytes) " + hex(d.data, 48);
    }

    /** Lower-case hex of the first {@code max} bytes, with "..." when there were more. */
    static String hex(byte[] b, int max) {
        int n = Math.min(b.length, max);
        StringBuilder sb = new StringBuilder(2 * n + 3);
        for (int i = 0; i < n; i++) {
            sb.append(Character.forDigit((b[i] >> 4) & 0xF, 16)).append(Character.forDigit(b[i] & 0xF, 16));
        }
        if (b.length > max) {
            sb.append("...");
        }
        return sb.toString();
    }

    /** Payload as text where it is printable ASCII, with \xNN escapes elsewhere. */
    static String escaped(byte[] b, int max) {
        StringBuilder sb = new StringBuilder();
        int n = Math.min(b.length, max);
        for (int i = 0; i < n; i++) {
            int c = b[i] & 0xFF;
            if (c >= 0x20 && c < 0x7F && c != '\\') {
                sb.append((char) c);
            } else if (c == '\\') {
                sb.append("\\\\");
            } else if (c == '\n') {
                sb.append("\\n");
            } else {
                sb.append(String.format("\\x%02x", c));
            }
        }
        if (b.length > max) {
            sb.append("...");
        }
        return sb.toString();
    }

    private static String abbreviate(String hash) {
        return hash.length() > 12 ? hash.substring(0, 12) : hash;
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
