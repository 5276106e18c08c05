package dev.revenant.agent.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;

import dev.revenant.log.LogDirectoryException;
import dev.revenant.log.LogIssue;
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
        PrintWriter err = spec.commandLine().getErr();
        LogVerifier.Report report;
        Progress progress = new Progress(err, "verify");
        long[] n = {0};
        try {
            report = LogVerifier.verify(log.log, r -> progress.update(++n[0]));
        } catch (LogDirectoryException e) {
            err.println("revenant verify: " + e.getMessage());
            return RevenantCli.EXIT_USAGE;
        } finally {
            progress.done();
        }
        if (json) {
            out.println(toJson(report));
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

    static String toJson(LogVerifier.Report r) {
        StringBuilder sb = new StringBuilder("{");
        sb.append("\"log\":").append(Json.str(r.directory().toString()));
        sb.append(",\"sound\":").append(r.sound());
        sb.append(",\"records\":").append(r.records());
        sb.append(",\"firstPosition\":").append(r.firstPosition());
        sb.append(",\"lastPosition\":").append(r.lastPosition());
        sb.append(",\"stableWatermark\":").append(r.stableWatermark());
        sb.append(",\"segments\":").append(r.segments().size());
        sb.append(",\"sessions\":").append(r.sessions().size());
        sb.append(",\"droppedBytes\":").append(r.droppedBytes());
        sb.append(",\"issues\":[");
        boolean first = true;
        for (LogIssue i : r.issues()) {
            sb.append(first ? "" : ",");
            first = false;
            sb.append(issueJson(i));
        }
        return sb.append("]}").toString();
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
