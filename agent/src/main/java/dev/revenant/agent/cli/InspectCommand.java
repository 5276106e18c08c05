package dev.revenant.agent.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

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
        description = {"Prints a log: its sessions (header records with the app fingerprint), counts per record "
                + "type and per thread, then one line per record.",
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
        List<String> lines = new ArrayList<>();
        LogVerifier.Report report = VerifyCommand.read(spec, log, "inspect", r -> {
            if (!noRecords && r.position() >= from && r.position() <= to
                    && (typeCodes.isEmpty() || typeCodes.contains(r.type()))
                    && (threads.isEmpty() || threads.contains(r.thread()))) {
                lines.add(json ? recordJson(r) : recordLine(r));
            }
        });
        if (report == null) {
            return RevenantCli.EXIT_USAGE;
        }
        if (json) {
            printJson(out, report, lines);
        } else {
            printText(out, report, lines);
        }
        return report.sound() ? RevenantCli.EXIT_OK : RevenantCli.EXIT_PROBLEM;
    }

    private static void printText(PrintWriter out, LogVerifier.Report r, List<String> lines) {
        out.printf("log %s: %d records, positions %d..%d, %d segment(s)%n", r.directory(), r.records(),
                r.firstPosition(), r.lastPosition(), r.segments().size());
        out.printf("stable watermark: %s%n", r.stableWatermark() < 0 ? "none recorded" : r.stableWatermark());
        out.println("sessions:");
        for (LogHeader h : r.sessions()) {
            out.printf("  epoch %d  started %s  format %d  main %s  classpath %s  jvm %s  agent %s%s%n", h.epoch(),
                    java.time.Instant.ofEpochMilli(h.startedAtMillis()), h.formatVersion(), h.fingerprint().mainClass(),
                    abbreviate(h.fingerprint().classPathHash()), h.fingerprint().jvmVersion(),
                    h.fingerprint().agentVersion(),
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

    private static void printJson(PrintWriter out, LogVerifier.Report r, List<String> lines) {
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
                    .append(",\"previousEnd\":").append(h.previousEnd())
                    .append(",\"previousDroppedBytes\":").append(h.previousDroppedBytes()).append('}');
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
        return String.format("%10d  %-13s epoch=%d thread=%d seq=%d  %dB  %s", r.position(), r.typeName(), r.epoch(),
                r.thread(), r.threadSeq(), r.payload().length, preview(r));
    }

    static String recordJson(LogRecord r) {
        return "{\"position\":" + r.position() + ",\"type\":" + Json.str(r.typeName()) + ",\"epoch\":" + r.epoch()
                + ",\"thread\":" + r.thread() + ",\"threadSeq\":" + r.threadSeq() + ",\"length\":" + r.payload().length
                + ",\"payload\":" + Json.str(escaped(r.payload(), 4096)) + "}";
    }

    private static String preview(LogRecord r) {
        if (r.type() == RecordTypes.HEADER) {
            return LogHeader.fields(r.payload()).toString();
        }
        if (r.type() == RecordTypes.CLOCK || r.type() == RecordTypes.RANDOM || r.type() == RecordTypes.TIMED_WAIT
                || r.type() == RecordTypes.SOCKET_ACCEPT || r.type() == RecordTypes.SOCKET_READ
                || r.type() == RecordTypes.SOCKET_WRITE || r.type() == RecordTypes.SELECT) {
            return dev.revenant.agent.runtime.DeterminantCodec.describe(r.payload());
        }
        return escaped(r.payload(), 64);
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
