package dev.revenant.agent.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

import dev.revenant.bridge.NetHooks;
import dev.revenant.log.LogDirectoryException;
import dev.revenant.log.LogHeader;
import dev.revenant.log.LogIssue;
import dev.revenant.log.LogReader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.RecordTypes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code revenant diff}: where two logs of the same app first part ways. */
@Command(name = "diff", mixinStandardHelpOptions = true,
        description = {"Compares two logs of the same app thread by thread: the n-th determinant a virtual thread got "
                + "in A (type, kind and payload: the clock value, the bytes read, the ready set, ...) against the "
                + "n-th it got in B. Prints the first place where they differ, in A's order, with both records "
                + "decoded, or that they agree up to where the shorter one ends.",
                "Headers, environments and notes are not compared. In ready sets the descriptor numbers of known "
                        + "connections are ignored (replay maps connections, not descriptors). Two independent "
                        + "recordings differ at their first clock reading; diff is for a log against a copy, an older "
                        + "state of itself, or a run fed the same inputs."},
        footerHeading = "%n",
        footer = "Exit codes: 0 the logs agree (up to the shorter); 1 they differ, or one holds damage (where is "
                + "printed); 2 usage, or a directory is not a log.")
public final class DiffCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--log", required = true, paramLabel = "DIR",
            description = "A log directory; give --log twice: A, then B.")
    List<Path> logs = new ArrayList<>();

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    /** One side of the comparison. */
    private static final class Side {
        final String name;
        final LogReader reader;
        final Map<Long, ArrayDeque<LogRecord>> pending = new HashMap<>();
        final Map<Long, Long> count = new TreeMap<>();
        LogHeader header;
        boolean ended;

        Side(String name, LogReader reader) {
            this.name = name;
            this.reader = reader;
        }

        /** The next determinant record, or null at the end. */
        LogRecord next() throws IOException {
            for (LogRecord r; (r = reader.next()) != null; ) {
                if (r.type() == RecordTypes.HEADER && header == null) {
                    try {
                        header = LogHeader.decode(r.payload());
                    } catch (RuntimeException e) {
                        // reported by verify; the comparison does not need it
                    }
                }
                if (Decoded.isDeterminant(r.type())) {
                    count.merge(r.thread(), 1L, Long::sum);
                    return r;
                }
            }
            ended = true;
            return null;
        }

        /** Smallest position among records still waiting for the other side; MAX_VALUE if none. */
        long firstPending() {
            long min = Long.MAX_VALUE;
            for (ArrayDeque<LogRecord> q : pending.values()) {
                if (!q.isEmpty()) {
                    min = Math.min(min, q.peekFirst().position());
                }
            }
            return min;
        }

        Map<Long, Long> extra() {
            Map<Long, Long> m = new TreeMap<>();
            pending.forEach((t, q) -> {
                if (!q.isEmpty()) {
                    m.put(t, (long) q.size());
                }
            });
            return m;
        }
    }

    /** The first difference found: the pair of records, the thread and the index on it. */
    private record Divergence(LogRecord a, LogRecord b, long index, String what) {}

    private Divergence found;
    private long compared;

    @Override
    public Integer call() throws IOException {
        if (logs.size() != 2) {
            throw new ParameterException(spec.commandLine(), "diff needs two logs: --log A --log B (got "
                    + logs.size() + ")");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        LogReader ra;
        try {
            ra = LogReader.open(logs.get(0), LogReader.Mode.LENIENT);
        } catch (LogDirectoryException e) {
            err.println("revenant diff: A: " + e.getMessage());
            return RevenantCli.EXIT_USAGE;
        }
        try (LogReader a = ra; LogReader b = openB(err)) {
            if (b == null) {
                return RevenantCli.EXIT_USAGE;
            }
            Side sa = new Side("A", a);
            Side sb = new Side("B", b);
            Progress progress = new Progress(err, "diff");
            compare(sa, sb, progress);
            progress.done();
            List<LogIssue> damage = new ArrayList<>();
            a.issues().stream().filter(LogIssue::isDamage).forEach(damage::add);
            int damagedA = damage.size();
            b.issues().stream().filter(LogIssue::isDamage).forEach(damage::add);
            if (json) {
                out.println(json(sa, sb, damage, damagedA));
            } else {
                text(out, sa, sb);
            }
            out.flush();
            for (int i = 0; i < damage.size(); i++) {
                err.println("revenant diff: " + (i < damagedA ? "A" : "B") + " is damaged: " + damage.get(i));
            }
            return found != null || !damage.isEmpty() ? RevenantCli.EXIT_PROBLEM : RevenantCli.EXIT_OK;
        }
    }

    private LogReader openB(PrintWriter err) throws IOException {
        try {
            return LogReader.open(logs.get(1), LogReader.Mode.LENIENT);
        } catch (LogDirectoryException e) {
            err.println("revenant diff: B: " + e.getMessage());
            return null;
        }
    }

    /**
     * Reads both logs a record at a time, each side in turn; a thread's n-th determinant waits
     * in its side's queue until the other side's n-th arrives. The first mismatch seen need not be
     * the first in A's order (B may lag on another thread), so reading goes on until every A
     * record before it has been compared, or B has ended.
     */
    private void compare(Side a, Side b, Progress progress) throws IOException {
        long n = 0;
        while (!(a.ended && b.ended)) {
            if (found != null && (b.ended || a.firstPending() > found.a().position())) {
                return;
            }
            if (!a.ended && found == null) {
                LogRecord r = a.next();
                if (r != null) {
                    take(a, b, r, true);
                }
            }
            if (!b.ended) {
                LogRecord r = b.next();
                if (r != null) {
                    take(b, a, r, false);
                }
            }
            progress.update(++n);
        }
    }

    private void take(Side self, Side other, LogRecord r, boolean isA) {
        ArrayDeque<LogRecord> waiting = other.pending.get(r.thread());
        if (waiting == null || waiting.isEmpty()) {
            self.pending.computeIfAbsent(r.thread(), t -> new ArrayDeque<>()).addLast(r);
            return;
        }
        LogRecord o = waiting.pollFirst();
        LogRecord ra = isA ? r : o;
        LogRecord rb = isA ? o : r;
        String what = difference(ra, rb);
        if (what == null) {
            compared++;
            return;
        }
        if (found == null || ra.position() < found.a().position()) {
            long index = self.count.get(r.thread()) - 1;
            found = new Divergence(ra, rb, index, what);
        }
    }

    /** What differs between two determinants, or null if they are the same. */
    static String difference(LogRecord a, LogRecord b) {
        if (a.type() != b.type()) {
            return "type";
        }
        byte[] pa = a.payload();
        byte[] pb = b.payload();
        if (pa.length == 0 || pb.length == 0 || pa[0] != pb[0]) {
            return Arrays.equals(pa, pb) ? null : "kind";
        }
        if ((pa[0] & 0xFF) == NetHooks.SELECT) {
            Decoded da = Decoded.of(a);
            Decoded db = Decoded.of(b);
            if (da.ready != null && db.ready != null) {
                return sameReady(da.ready, db.ready) ? null : "ready set";
            }
        }
        return Arrays.equals(pa, pb) ? null : "payload";
    }

    /** Ready sets agree on connections and events; descriptor numbers count only for untracked ones. */
    private static boolean sameReady(List<Decoded.Ready> a, List<Decoded.Ready> b) {
        if (a.size() != b.size()) {
            return false;
        }
        for (int i = 0; i < a.size(); i++) {
            Decoded.Ready x = a.get(i);
            Decoded.Ready y = b.get(i);
            if (x.conn() != y.conn() || x.events() != y.events()
                    || (x.conn() == Decoded.UNTRACKED && x.fd() != y.fd())) {
                return false;
            }
        }
        return true;
    }

    private String notes(Side a, Side b) {
        if (a.header != null && b.header != null
                && !a.header.fingerprint().mainClass().equals(b.header.fingerprint().mainClass())) {
            return "A records " + a.header.fingerprint().mainClass() + " but B records "
                    + b.header.fingerprint().mainClass() + ": not the same app";
        }
        return null;
    }

    private void text(PrintWriter out, Side a, Side b) {
        String note = notes(a, b);
        if (note != null) {
            out.println("note: " + note);
        }
        if (found != null) {
            LogRecord ra = found.a();
            out.printf("logs differ at thread %d, determinant #%d of that thread (the %s differs); %d pair(s) of "
                    + "determinants compared equal%n", ra.thread(), found.index(), found.what(), compared);
            out.println("  A " + logs.get(0) + ":");
            out.println("  " + InspectCommand.recordLine(ra));
            out.println("  B " + logs.get(1) + ":");
            out.println("  " + InspectCommand.recordLine(found.b()));
            return;
        }
        Map<Long, Long> extraA = a.extra();
        Map<Long, Long> extraB = b.extra();
        out.printf("logs agree: %d determinant(s) on %d thread(s) compared, all equal%n", compared,
                threads(a, b));
        List<String> extra = new ArrayList<>();
        extraA.forEach((t, n) -> extra.add("A has " + n + " more on thread " + t));
        extraB.forEach((t, n) -> extra.add("B has " + n + " more on thread " + t));
        if (!extra.isEmpty()) {
            out.println("  where the shorter ends: " + String.join("; ", extra));
        }
    }

    private static long threads(Side a, Side b) {
        return a.count.keySet().stream().filter(b.count::containsKey).count();
    }

    private String json(Side a, Side b, List<LogIssue> damage, int damagedA) {
        StringBuilder sb = new StringBuilder("{");
        sb.append("\"a\":").append(Json.str(logs.get(0).toString()))
                .append(",\"b\":").append(Json.str(logs.get(1).toString()))
                .append(",\"same\":").append(found == null)
                .append(",\"compared\":").append(compared)
                .append(",\"threads\":").append(threads(a, b))
                .append(",\"determinantsA\":").append(a.count.values().stream().mapToLong(Long::longValue).sum())
                .append(",\"determinantsB\":").append(b.count.values().stream().mapToLong(Long::longValue).sum())
                .append(",\"note\":").append(Json.str(notes(a, b)));
        if (found != null) {
            sb.append(",\"divergence\":{\"thread\":").append(found.a().thread())
                    .append(",\"index\":").append(found.index())
                    .append(",\"what\":").append(Json.str(found.what()))
                    .append(",\"recordA\":").append(InspectCommand.recordJson(found.a()))
                    .append(",\"recordB\":").append(InspectCommand.recordJson(found.b())).append('}');
        } else {
            sb.append(",\"divergence\":null");
            sb.append(",\"extraA\":").append(extraJson(a.extra())).append(",\"extraB\":").append(extraJson(b.extra()));
        }
        sb.append(",\"issues\":[");
        for (int i = 0; i < damage.size(); i++) {
            String issue = VerifyCommand.issueJson(damage.get(i));
            sb.append(i == 0 ? "" : ",").append("{\"log\":").append(Json.str(i < damagedA ? "A" : "B")).append(',')
                    .append(issue, 1, issue.length());
        }
        return sb.append("]}").toString();
    }

    private static String extraJson(Map<Long, Long> m) {
        StringBuilder sb = new StringBuilder("{");
        m.forEach((t, n) -> sb.append(sb.length() == 1 ? "" : ",").append(Json.str(t.toString())).append(':').append(n));
        return sb.append('}').toString();
    }
}
