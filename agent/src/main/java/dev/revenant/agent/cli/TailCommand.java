package dev.revenant.agent.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.ClosedByInterruptException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.locks.LockSupport;

import dev.revenant.log.LogCorruptException;
import dev.revenant.log.LogDirectoryException;
import dev.revenant.log.LogIssue;
import dev.revenant.log.LogReader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.LogTailer;
import dev.revenant.log.RecordTypes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code revenant tail}: the newest records of a log, or a live log as it grows. */
@Command(name = "tail", mixinStandardHelpOptions = true,
        description = {"Prints the last records of a log, one line each as inspect prints them.",
                "With -f it then follows the log while another process writes it — across segment rolls and "
                        + "the new session a recovery starts — until interrupted (Ctrl-C)."},
        footerHeading = "%n",
        footer = "Exit codes: 0 ok; 1 the log holds damage (where is printed on stderr); 2 usage, or the directory "
                + "is not a log.")
public final class TailCommand implements Callable<Integer> {
    static final int DEFAULT_LINES = 20;
    /** How long a follower sleeps when the log has nothing new. */
    private static final long IDLE_NANOS = 20_000_000L;

    @Spec
    CommandSpec spec;

    @Mixin
    LogOptions log;

    @Option(names = {"-f", "--follow"}, description = "Keep printing records as they are written, until interrupted.")
    boolean follow;

    @Option(names = "-n", paramLabel = "N",
            description = "How many of the last records to print first (default " + DEFAULT_LINES + "; 0: none, "
                    + "with -f only new ones).")
    Integer lines;

    @Option(names = "--from", paramLabel = "POS",
            description = "Start at this position instead of the last N records (all records from it on).")
    Long from;

    @Option(names = "--type", paramLabel = "TYPE", split = ",",
            description = "Only records of these types (names like CLOCK or numeric codes).")
    List<String> types = new ArrayList<>();

    @Option(names = "--json", description = "Each record as one JSON object on its own line (as in inspect's recordList).")
    boolean json;

    @Option(names = "--hex", description = "Show payload bytes as hex instead of escaped text.")
    boolean hex;

    private List<Integer> typeCodes;

    @Override
    public Integer call() throws IOException {
        if (lines != null && from != null) {
            throw new ParameterException(spec.commandLine(), "-n and --from choose the start in two ways; give one");
        }
        if (lines != null && lines < 0) {
            throw new ParameterException(spec.commandLine(), "-n must be 0 or more, not " + lines);
        }
        typeCodes = new ArrayList<>();
        for (String t : types) {
            int c = RecordTypes.code(t);
            if (c < 0) {
                throw new ParameterException(spec.commandLine(), "unknown record type '" + t + "'; known: "
                        + String.join(", ", RecordTypes.all().values()));
            }
            typeCodes.add(c);
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        int n = lines == null ? DEFAULT_LINES : lines;
        try {
            if (follow) {
                return follow(out, err, n);
            }
            return from != null ? printRange(out, err, from) : printLast(out, err, n);
        } catch (LogDirectoryException e) {
            err.println("revenant tail: " + e.getMessage());
            return RevenantCli.EXIT_USAGE;
        }
    }

    private boolean wanted(LogRecord r) {
        return typeCodes.isEmpty() || typeCodes.contains(r.type());
    }

    private void print(PrintWriter out, LogRecord r) {
        out.println(json ? InspectCommand.recordJson(r, hex) : InspectCommand.recordLine(r, hex));
    }

    /**
     * The last {@code n} wanted records of a log read as it is now. Without a type filter the
     * reader jumps straight to the segment that holds them; with one it reads the whole log,
     * keeping only {@code n} records.
     */
    private int printLast(PrintWriter out, PrintWriter err, int n) throws IOException {
        ArrayDeque<LogRecord> lastN = new ArrayDeque<>();
        List<LogIssue> damage = new ArrayList<>();
        try (LogReader reader = LogReader.open(log.log, LogReader.Mode.LENIENT)) {
            if (typeCodes.isEmpty()) {
                reader.skipTo(Math.max(0, LogReader.endPosition(log.log) - n + 1));
            }
            for (LogRecord r; (r = reader.next()) != null; ) {
                keep(lastN, n, r);
            }
            reader.issues().stream().filter(LogIssue::isDamage).forEach(damage::add);
        }
        lastN.forEach(r -> print(out, r));
        out.flush();
        reportDamage(err, damage);
        return damage.isEmpty() ? RevenantCli.EXIT_OK : RevenantCli.EXIT_PROBLEM;
    }

    private void keep(ArrayDeque<LogRecord> lastN, int n, LogRecord r) {
        if (n > 0 && wanted(r)) {
            if (lastN.size() == n) {
                lastN.removeFirst();
            }
            lastN.addLast(r);
        }
    }

    private int printRange(PrintWriter out, PrintWriter err, long first) throws IOException {
        List<LogIssue> damage = new ArrayList<>();
        try (LogReader reader = LogReader.open(log.log, LogReader.Mode.LENIENT)) {
            reader.skipTo(first);
            for (LogRecord r; (r = reader.next()) != null; ) {
                if (wanted(r)) {
                    print(out, r);
                }
            }
            reader.issues().stream().filter(LogIssue::isDamage).forEach(damage::add);
        }
        out.flush();
        reportDamage(err, damage);
        return damage.isEmpty() ? RevenantCli.EXIT_OK : RevenantCli.EXIT_PROBLEM;
    }

    private static void reportDamage(PrintWriter err, List<LogIssue> damage) {
        if (!damage.isEmpty()) {
            err.println("revenant tail: the log is damaged: " + damage.get(0)
                    + (damage.size() > 1 ? " (and " + (damage.size() - 1) + " more; see revenant verify)" : ""));
            err.flush();
        }
    }

    /**
     * Follows the log with a {@link LogTailer}, which waits at a record still being written
     * instead of calling it a torn tail, and never mistakes a live writer for damage. It starts at
     * {@code --from}, or near the end: what it reads before it first catches up with the writer
     * is the backlog, of which the last {@code n} wanted records are printed; from then on every
     * wanted record is printed as it appears, until interrupted.
     */
    private int follow(PrintWriter out, PrintWriter err, int n) throws IOException {
        long start = from != null ? from
                : typeCodes.isEmpty() ? Math.max(0, LogReader.endPosition(log.log) - n + 1) : 0;
        ArrayDeque<LogRecord> backlog = from == null ? new ArrayDeque<>() : null;
        try (LogTailer tailer = LogTailer.open(log.log, start)) {
            while (!Thread.currentThread().isInterrupted()) {
                LogRecord r;
                try {
                    r = tailer.poll();
                } catch (LogCorruptException e) {
                    flushBacklog(out, backlog);
                    err.println("revenant tail: the log is damaged: " + e.issue());
                    err.flush();
                    return RevenantCli.EXIT_PROBLEM;
                } catch (ClosedByInterruptException e) {
                    break; // interrupted inside a read: asked to stop, like between reads
                }
                if (r == null) {
                    flushBacklog(out, backlog);
                    backlog = null;
                    LockSupport.parkNanos(IDLE_NANOS);
                    continue;
                }
                if (r.position() < start) {
                    continue;
                }
                if (backlog != null) {
                    keep(backlog, n, r);
                } else if (wanted(r)) {
                    print(out, r);
                }
            }
        }
        return RevenantCli.EXIT_OK;
    }

    private void flushBacklog(PrintWriter out, ArrayDeque<LogRecord> backlog) {
        if (backlog != null) {
            backlog.forEach(r -> print(out, r));
        }
        out.flush();
    }
}
