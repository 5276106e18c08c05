package dev.revenant.agent.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

import dev.revenant.log.LogDirectoryException;
import dev.revenant.log.LogIssue;
import dev.revenant.log.LogRecord;
import dev.revenant.log.LogVerifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code revenant verify}: a full integrity check of a log. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Checks a whole log: every record's CRC, dense positions across segments, and that "
                + "nothing the writer reported stable is missing.",
                "A torn tail left by a crash (records never reported stable) is normal: it is reported and "
                        + "the exit code stays 0."},
        footerHeading = "%n",
        footer = "Exit codes: 0 sound (possibly with a torn tail); 1 damage found, each with its position; "
                + "2 usage, or the directory is not a log.")
public final class VerifyCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    LogOptions log;

    @Option(names = "--json", description = "Print the report as one JSON object.")
    boolean json;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        LogVerifier.Report report = read(spec, log, "verify", r -> { });
        if (report == null) {
            return RevenantCli.EXIT_USAGE;
        }
        if (json) {
            out.println(summaryJson(report).append(",\"sessions\":").append(report.sessions().size()).append('}'));
        } else {
            out.printf("log %s: %d records, positions %d..%d, %d segment(s), %d session(s), stable watermark %s%n",
                    report.directory(), report.records(), report.firstPosition(), report.lastPosition(),
                    report.segments().size(), report.sessions().size(),
                    report.stableWatermark() < 0 ? "none recorded" : Long.toString(report.stableWatermark()));
            for (LogIssue i : report.issues()) {
                out.println("  " + i);
            }
            if (report.sound()) {
                out.println(report.tornTails().isEmpty() ? "sound"
                        : "sound (torn tail after a crash: " + report.droppedBytes()
                                + " bytes dropped, none of it reported stable)");
            } else {
                out.println("DAMAGED: " + report.damage().size() + " problem(s); the first is at position "
                        + report.damage().get(0).position());
            }
        }
        return report.sound() ? RevenantCli.EXIT_OK : RevenantCli.EXIT_PROBLEM;
    }

    /**
     * Reads the whole log with a progress line, handing each intact record to {@code each}.
     * Returns null, after one line on stderr, when the directory is not a log.
     */
    static LogVerifier.Report read(CommandSpec spec, LogOptions log, String command, Consumer<LogRecord> each)
            throws IOException {
        return read(spec, log, command, each, null);
    }

    /** As {@link #read(CommandSpec, LogOptions, String, Consumer)}, also passing on the writer's force timings. */
    static LogVerifier.Report read(CommandSpec spec, LogOptions log, String command, Consumer<LogRecord> each,
                                   Consumer<dev.revenant.log.ForceTiming> timings) throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        Progress progress = new Progress(err, command);
        long[] n = {0};
        try {
            return LogVerifier.verify(log.log, r -> {
                progress.update(++n[0]);
                each.accept(r);
            }, timings);
        } catch (LogDirectoryException e) {
            err.println("revenant " + command + ": " + e.getMessage());
            return null;
        } finally {
            progress.done();
        }
    }

    /** The report's summary and issues as an unclosed JSON object, for commands to extend. */
    static StringBuilder summaryJson(LogVerifier.Report r) {
        StringBuilder sb = new StringBuilder("{");
        sb.append("\"log\":").append(Json.str(r.directory().toString()));
        sb.append(",\"sound\":").append(r.sound());
        sb.append(",\"records\":").append(r.records());
        sb.append(",\"firstPosition\":").append(r.firstPosition());
        sb.append(",\"lastPosition\":").append(r.lastPosition());
        sb.append(",\"stableWatermark\":").append(r.stableWatermark());
        sb.append(",\"segments\":").append(r.segments().size());
        sb.append(",\"droppedBytes\":").append(r.droppedBytes());
        sb.append(",\"issues\":[");
        for (int i = 0; i < r.issues().size(); i++) {
            sb.append(i == 0 ? "" : ",").append(issueJson(r.issues().get(i)));
        }
        return sb.append(']');
    }

    static String issueJson(LogIssue i) {
        return "{\"severity\":" + Json.str(i.isDamage() ? "damage" : "torn-tail")
                + ",\"position\":" + i.position()
                + ",\"segment\":" + Json.str(i.segment() == null ? null : i.segment().getFileName().toString())
                + ",\"offset\":" + i.offset()
                + ",\"droppedBytes\":" + i.droppedBytes()
                + ",\"message\":" + Json.str(i.message()) + "}";
    }
}
