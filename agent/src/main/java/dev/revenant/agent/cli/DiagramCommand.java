package dev.revenant.agent.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

import dev.revenant.log.LogDirectory;
import dev.revenant.log.LogDirectoryException;
import dev.revenant.log.LogHeader;
import dev.revenant.log.LogIssue;
import dev.revenant.log.LogRecord;
import dev.revenant.log.LogVerifier;
import dev.revenant.log.RecordTypes;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code revenant diagram}: one self-contained HTML page drawing one or more logs as a space-time
 * diagram, one lane per virtual thread, grouped by log (process).
 *
 * <p>The page is written while the logs are read: a fixed head (styles, the error catcher, the
 * page skeleton), then one compact JSON row per record as it comes, then what is only known at
 * the end (lanes, types, sessions, damage), then the drawing script. Memory stays proportional to
 * the number of lanes and types, not records. The template is {@code diagram.html} beside this
 * class; it holds everything the page needs, so it opens without a network.
 */
@Command(name = "diagram", mixinStandardHelpOptions = true,
        description = {"Writes a self-contained HTML page (no network; scripts and styles inline) that draws one or "
                + "more logs as a space-time diagram: one lane per virtual thread, lanes grouped under each --log, "
                + "every record an event on its thread's lane at its log position (or, switched in the page, at "
                + "its estimated wall time as stats computes it). Session headers (epochs) are shaded bands, "
                + "recoveries (CONTINUES), fresh runs, checkpoints and damage are vertical lines; socket events "
                + "carry their connection, and clicking one links every event of that connection.",
                "The page zooms (wheel, + and - buttons or keys, 0 to fit), pans (drag, arrow keys), and shows an "
                        + "event's type, thread, position, time and decoded summary on hover or click. It draws "
                        + "on a canvas, so 10^5 events stay fluid. Summaries are cut at " + DiagramCommand.SUMMARY_MAX
                        + " characters; the page holds what the log holds (secrets included), so the file is created "
                        + "readable by its owner only (0600).",
                "A damaged log is drawn up to and after the damage (every intact record, as export does) with the "
                        + "damage marked where it is; the command then exits with 1 and names the position."},
        footerHeading = "%n",
        footer = {"For tests the page reports on itself: after drawing, <body data-rendered=\"1\"> and "
                + "<pre id=\"revenant-report\"> holds JSON {lanes, eventCounts, totalEvents, renderMs, consoleErrors, "
                + "...}; opened with #selftest it also zooms 20 steps and reports the frame times.",
                "Exit codes: 0 ok; 1 a log holds damage (the page is written, the damage marked; where is printed on "
                        + "stderr) or the page could not be written; 2 usage, or a directory is not a log."})
public final class DiagramCommand implements Callable<Integer> {
    /** Longest summary kept per event, in characters. */
    static final int SUMMARY_MAX = 160;
    /** Template resource, split at the two markers below. */
    static final String TEMPLATE = "diagram.html";
    static final String EVENTS_MARK = "/*@EVENTS@*/";
    static final String META_MARK = "/*@META@*/";
    static final String TITLE_MARK = "@TITLE@";

    @Spec
    CommandSpec spec;

    @Option(names = "--log", required = true, paramLabel = "DIR",
            description = "Log directory to draw; repeat for several processes (each gets its own group of lanes).")
    List<Path> logs;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "FILE",
            description = "The HTML file to write (replaced if it exists).")
    Path output;

    @Option(names = "--json", description = "Print a JSON summary (output, bytes, lanes, event counts by type).")
    boolean json;

    @Option(names = "--from", paramLabel = "POS", description = "Draw only records at this position or later.")
    Long from;

    @Option(names = "--to", paramLabel = "POS", description = "Draw only records at this position or earlier.")
    Long to;

    @Option(names = "--title", paramLabel = "TEXT", description = "Title of the page (default: the log directories).")
    String title;

    enum Axis { position, time }

    @Option(names = "--axis", paramLabel = "position|time",
            description = "What the x axis shows when the page opens (the page switches with t): log position "
                    + "(default) or estimated wall time.")
    Axis axis = Axis.position;

    /** What was learnt about one log while its records were written out. */
    static final class LogPart {
        final int index;
        final Path dir;
        String label;
        final Map<Long, Integer> lanes = new LinkedHashMap<>(); // virtual thread id -> global lane index
        final Map<Integer, StatsCommand.Timeline> timelines = new HashMap<>();
        long lastTime = -1;
        /** Epoch of the fresh start (ENVIRONMENT) the records read so far belong to; -1 before any record. */
        int run = -1;
        /** Epoch -> the run it belongs to: connection ids count anew with each fresh start, not with a recovery. */
        final Map<Integer, Integer> runs = new TreeMap<>();
        long drawn;
        LogVerifier.Report report;

        LogPart(int index, Path dir) {
            this.index = index;
            this.dir = dir;
        }
    }

    /** One lane: a virtual thread of one log. */
    record Lane(int log, long thread, long[] events) {}

    /** A vertical marker: a session start, a recovery, a fresh run, a checkpoint, damage. */
    record Mark(int log, String kind, long position, long time, int epoch, String text) {}

    private final List<Lane> lanes = new ArrayList<>();
    private final Map<Integer, Integer> typeIndex = new LinkedHashMap<>();
    private final List<long[]> typeCounts = new ArrayList<>();
    private final Map<String, Integer> kindIndex = new LinkedHashMap<>();
    private final List<Mark> marks = new ArrayList<>();
    private final StatsCommand.Stats clockCounters = new StatsCommand.Stats(); // Timeline wants one; unused
    private long total;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        if (from != null && to != null && from > to) {
            throw new ParameterException(spec.commandLine(), "--from " + from + " is after --to " + to);
        }
        List<LogPart> parts = new ArrayList<>();
        for (Path dir : logs) {
            try {
                parts.add(new LogPart(parts.size(), LogDirectory.requireReadableLog(dir)));
            } catch (LogDirectoryException e) {
                err.println("revenant diagram: " + e.getMessage());
                return RevenantCli.EXIT_USAGE;
            }
        }
        labels(parts);
        Path out = output.toAbsolutePath().normalize();
        Path parent = out.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            err.println("revenant diagram: cannot write " + out + ": the directory " + parent
                    + " does not exist; create it or choose another -o");
            return RevenantCli.EXIT_USAGE;
        }
        if (Files.isDirectory(out)) {
            err.println("revenant diagram: " + out + " is a directory; -o names the HTML file to write");
            return RevenantCli.EXIT_USAGE;
        }
        String[] template = template();

        // Written beside the target and moved over it at the end: a failed run leaves no half page.
        Path tmp = parent.resolve("." + out.getFileName() + ".tmp" + ProcessHandle.current().pid());
        try {
            Files.deleteIfExists(tmp);
            createPrivate(tmp);
            try (Writer w = new BufferedWriter(new OutputStreamWriter(Files.newOutputStream(tmp),
                    StandardCharsets.UTF_8), 1 << 16)) {
                w.write(template[0].replace(TITLE_MARK, html(pageTitle(parts))));
                w.write('[');
                for (LogPart part : parts) {
                    Progress progress = new Progress(err, "diagram " + part.label);
                    long[] n = {0};
                    try {
                        part.report = LogVerifier.verify(part.dir, r -> {
                            progress.update(++n[0]);
                            try {
                                record(w, part, r);
                            } catch (IOException e) {
                                throw new WriteFailed(e);
                            }
                        });
                    } finally {
                        progress.done();
                    }
                }
                w.write(']');
                w.write(template[1]);
                w.write(meta(parts));
                w.write(template[2]);
            }
            move(tmp, out);
        } catch (WriteFailed e) {
            Files.deleteIfExists(tmp);
            err.println("revenant diagram: could not write " + out + ": " + RevenantCli.describe(e.getCause())
                    + "; nothing was written");
            return RevenantCli.EXIT_PROBLEM;
        } catch (LogDirectoryException e) {
            Files.deleteIfExists(tmp);
            err.println("revenant diagram: " + e.getMessage());
            return RevenantCli.EXIT_USAGE;
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }

        long bytes = Files.size(out);
        PrintWriter stdout = spec.commandLine().getOut();
        if (json) {
            stdout.println(summaryJson(parts, out, bytes));
        } else {
            stdout.printf("diagram of %d event(s) on %d lane(s) from %d log(s) written to %s (%s)%n", total,
                    lanes.size(), parts.size(), out, StatsCommand.bytes(bytes));
        }
        int exit = RevenantCli.EXIT_OK;
        for (LogPart p : parts) {
            List<LogIssue> damage = p.report.damage();
            if (!damage.isEmpty()) {
                err.println("revenant diagram: " + p.dir + " is damaged: " + damage.get(0)
                        + (damage.size() > 1 ? " (and " + (damage.size() - 1) + " more; see revenant verify)" : "")
                        + "; drew its " + p.report.records() + " intact records, the damage marked in red");
                exit = RevenantCli.EXIT_PROBLEM;
            }
        }
        return exit;
    }

    /** Thrown from the record callback when the page cannot be written. */
    private static final class WriteFailed extends RuntimeException {
        WriteFailed(IOException cause) {
            super(cause);
        }
    }

    /**
     * One record: its row in the event array and whatever the end needs (lane, type, marks).
     * Row: [position, lane, type, epoch, threadSeq, time ms, kind, conns, summary]; conns is -1,
     * one connection, or an array of them (a ready set names several).
     */
    private void record(Writer w, LogPart part, LogRecord r) throws IOException {
        Decoded d = Decoded.of(r);
        StatsCommand.Timeline tl = part.timelines.computeIfAbsent(r.epoch(), e -> new StatsCommand.Timeline());
        if (r.type() == RecordTypes.HEADER) {
            try {
                tl.header(LogHeader.decode(r.payload()).startedAtMillis());
            } catch (RuntimeException e) {
                // an undecodable header is the verifier's to report
            }
        } else if (r.type() == RecordTypes.CLOCK) {
            tl.clock(d, clockCounters);
        }
        if (tl.now >= 0) {
            part.lastTime = tl.now;
        }
        if (part.run < 0 || r.type() == RecordTypes.ENVIRONMENT) {
            part.run = r.epoch(); // the first session read starts a run, as does every fresh start
        }
        part.runs.put(r.epoch(), part.run); // a fresh session's header comes before its ENVIRONMENT: last one wins
        if ((from != null && r.position() < from) || (to != null && r.position() > to)) {
            return;
        }
        long time = tl.now >= 0 ? tl.now : part.lastTime; // a session cut off before its header: the time before
        Integer lane = part.lanes.get(r.thread());
        if (lane == null) {
            lane = lanes.size();
            lanes.add(new Lane(part.index, r.thread(), new long[1]));
            part.lanes.put(r.thread(), lane);
        }
        lanes.get(lane).events()[0]++;
        Integer type = typeIndex.get(r.type());
        if (type == null) {
            type = typeIndex.size();
            typeIndex.put(r.type(), type);
            typeCounts.add(new long[1]);
        }
        typeCounts.get(type)[0]++;
        int kind = -1;
        if (d.kind != null) {
            kind = kindIndex.computeIfAbsent(d.kind, k -> kindIndex.size());
        }
        String mark = switch (r.type()) {
            case RecordTypes.HEADER -> "session";
            case RecordTypes.CONTINUES -> "continues";
            case RecordTypes.ENVIRONMENT -> "fresh";
            case RecordTypes.CHECKPOINT -> "checkpoint";
            default -> null;
        };
        if (mark != null) {
            marks.add(new Mark(part.index, mark, r.position(), time, r.epoch(), cut(d.summary)));
        }

        StringBuilder sb = new StringBuilder(96);
        if (total > 0) {
            sb.append(",\n");
        }
        sb.append('[').append(r.position()).append(',').append(lane).append(',').append(type).append(',')
                .append(r.epoch()).append(',').append(r.threadSeq()).append(',').append(time).append(',')
                .append(kind).append(',');
        conns(sb, d);
        sb.append(',').append(js(cut(d.summary))).append(']');
        w.write(sb.toString());
        total++;
        part.drawn++;
    }

    /** The connections a record names: the one it is about, the server it was accepted on, a ready set's. */
    private static void conns(StringBuilder sb, Decoded d) {
        List<Long> c = new ArrayList<>(2);
        if (d.conn != null && d.conn >= 0) {
            c.add(d.conn);
        }
        if (d.serverConn != null && d.serverConn >= 0 && !c.contains(d.serverConn)) {
            c.add(d.serverConn);
        }
        if (d.ready != null) {
            for (Decoded.Ready e : d.ready) {
                if (e.conn() >= 0 && !c.contains(e.conn())) {
                    c.add(e.conn());
                }
            }
        }
        if (c.isEmpty()) {
            sb.append(-1);
        } else if (c.size() == 1) {
            sb.append(c.get(0).longValue());
        } else {
            sb.append('[');
            for (int i = 0; i < c.size(); i++) {
                sb.append(i == 0 ? "" : ",").append(c.get(i).longValue());
            }
            sb.append(']');
        }
    }

    /** Everything the page learns only at the end: logs, lanes, types, kinds, marks. */
    private String meta(List<LogPart> parts) {
        StringBuilder sb = new StringBuilder(4096);
        sb.append("{\"format\":1,\"generator\":").append(js("revenant " + RevenantCli.version()))
                .append(",\"title\":").append(js(pageTitle(parts)))
                .append(",\"axis\":").append(js(axis.name()))
                .append(",\"from\":").append(from == null ? "null" : from.toString())
                .append(",\"to\":").append(to == null ? "null" : to.toString())
                .append(",\"totalEvents\":").append(total).append(",\"logs\":[");
        for (LogPart p : parts) {
            LogVerifier.Report r = p.report;
            sb.append(p.index == 0 ? "" : ",").append("{\"label\":").append(js(p.label))
                    .append(",\"dir\":").append(js(p.dir.toString()))
                    .append(",\"records\":").append(r.records())
                    .append(",\"drawn\":").append(p.drawn)
                    .append(",\"firstPosition\":").append(r.firstPosition())
                    .append(",\"lastPosition\":").append(r.lastPosition())
                    .append(",\"sessions\":").append(r.sessions().size())
                    .append(",\"sound\":").append(r.sound())
                    .append(",\"runOfEpoch\":{");
            int e = 0;
            for (Map.Entry<Integer, Integer> run : p.runs.entrySet()) {
                sb.append(e++ == 0 ? "" : ",").append('"').append(run.getKey()).append("\":").append(run.getValue());
            }
            sb.append("},\"issues\":[");
            for (int i = 0; i < r.issues().size(); i++) {
                LogIssue issue = r.issues().get(i);
                sb.append(i == 0 ? "" : ",").append("{\"severity\":")
                        .append(js(issue.isDamage() ? "damage" : "torn-tail"))
                        .append(",\"position\":").append(issue.position())
                        .append(",\"text\":").append(js(issue.toString())).append('}');
                if (issue.isDamage()) {
                    long at = issue.position() >= 0 ? issue.position() : r.lastPosition() + 1;
                    marks.add(new Mark(p.index, "damage", at, p.lastTime, -1, cut(issue.toString())));
                }
            }
            sb.append("]}");
        }
        sb.append("],\"lanes\":[");
        for (int i = 0; i < lanes.size(); i++) {
            Lane l = lanes.get(i);
            sb.append(i == 0 ? "" : ",").append("{\"log\":").append(l.log())
                    .append(",\"thread\":").append(js(Long.toString(l.thread())))
                    .append(",\"name\":").append(js(laneName(parts, l)))
                    .append(",\"events\":").append(l.events()[0]).append('}');
        }
        sb.append("],\"types\":[");
        int i = 0;
        for (Map.Entry<Integer, Integer> e : typeIndex.entrySet()) {
            sb.append(i++ == 0 ? "" : ",").append("{\"code\":").append(e.getKey())
                    .append(",\"name\":").append(js(RecordTypes.name(e.getKey())))
                    .append(",\"events\":").append(typeCounts.get(e.getValue())[0]).append('}');
        }
        sb.append("],\"kinds\":[");
        i = 0;
        for (String k : kindIndex.keySet()) {
            sb.append(i++ == 0 ? "" : ",").append(js(k));
        }
        sb.append("],\"marks\":[");
        for (int m = 0; m < marks.size(); m++) {
            Mark k = marks.get(m);
            sb.append(m == 0 ? "" : ",").append("{\"log\":").append(k.log()).append(",\"kind\":").append(js(k.kind()))
                    .append(",\"position\":").append(k.position()).append(",\"time\":").append(k.time())
                    .append(",\"epoch\":").append(k.epoch()).append(",\"text\":").append(js(k.text())).append('}');
        }
        return sb.append("]}").toString();
    }

    private String summaryJson(List<LogPart> parts, Path out, long bytes) {
        StringBuilder sb = new StringBuilder("{\"output\":").append(Json.str(out.toString()))
                .append(",\"bytes\":").append(bytes)
                .append(",\"totalEvents\":").append(total)
                .append(",\"lanes\":[");
        for (int i = 0; i < lanes.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(Json.str(laneName(parts, lanes.get(i))));
        }
        sb.append("],\"eventCounts\":{");
        int i = 0;
        for (Map.Entry<Integer, Integer> e : new TreeMap<>(typeIndex).entrySet()) {
            sb.append(i++ == 0 ? "" : ",").append(Json.str(RecordTypes.name(e.getKey()))).append(':')
                    .append(typeCounts.get(e.getValue())[0]);
        }
        sb.append("},\"logs\":[");
        for (LogPart p : parts) {
            sb.append(p.index == 0 ? "" : ",").append("{\"log\":").append(Json.str(p.dir.toString()))
                    .append(",\"label\":").append(Json.str(p.label))
                    .append(",\"records\":").append(p.report.records())
                    .append(",\"drawn\":").append(p.drawn)
                    .append(",\"lanes\":").append(p.lanes.size())
                    .append(",\"sound\":").append(p.report.sound())
                    .append(",\"issues\":[");
            for (int k = 0; k < p.report.issues().size(); k++) {
                sb.append(k == 0 ? "" : ",").append(VerifyCommand.issueJson(p.report.issues().get(k)));
            }
            sb.append("]}");
        }
        return sb.append("]}").toString();
    }

    /** {@code thread N} with one log; {@code LABEL: thread N} with several, so every name is unique. */
    private static String laneName(List<LogPart> parts, Lane l) {
        String t = "thread " + l.thread();
        return parts.size() == 1 ? t : parts.get(l.log()).label + ": " + t;
    }

    /** Each log's label is its directory's name, made unique with the parent's name or a number. */
    private static void labels(List<LogPart> parts) {
        Map<String, Integer> seen = new HashMap<>();
        for (LogPart p : parts) {
            Path name = p.dir.getFileName();
            p.label = name == null ? p.dir.toString() : name.toString();
            seen.merge(p.label, 1, Integer::sum);
        }
        Map<String, Integer> used = new HashMap<>();
        for (LogPart p : parts) {
            if (seen.get(p.label) > 1) {
                Path parent = p.dir.getParent() == null ? null : p.dir.getParent().getFileName();
                String l = parent == null ? p.label : parent + "/" + p.label;
                int n = used.merge(l, 1, Integer::sum);
                p.label = n == 1 ? l : l + " #" + n;
            }
        }
    }

    private String pageTitle(List<LogPart> parts) {
        if (title != null) {
            return title;
        }
        StringBuilder sb = new StringBuilder("revenant diagram: ");
        for (LogPart p : parts) {
            sb.append(p.index == 0 ? "" : ", ").append(p.label);
        }
        return sb.toString();
    }

    /** The page template in three parts: up to the events, between events and meta, after meta. */
    static String[] template() throws IOException {
        String t;
        try (InputStream in = DiagramCommand.class.getResourceAsStream(TEMPLATE)) {
            if (in == null) {
                throw new IOException("the page template " + TEMPLATE + " is missing from the jar; rebuild it");
            }
            t = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        int e = t.indexOf(EVENTS_MARK);
        int m = t.indexOf(META_MARK);
        if (e < 0 || m < e) {
            throw new IOException("the page template " + TEMPLATE + " lacks its markers; rebuild the jar");
        }
        return new String[] {t.substring(0, e), t.substring(e + EVENTS_MARK.length(), m),
            t.substring(m + META_MARK.length())};
    }

    private static void createPrivate(Path file) throws IOException {
        try {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            Files.createFile(file);
        }
    }

    private static void move(Path tmp, Path out) throws IOException {
        try {
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static String cut(String s) {
        if (s == null) {
            return "";
        }
        return s.length() <= SUMMARY_MAX ? s : s.substring(0, SUMMARY_MAX - 1) + "\u2026";
    }

    /**
     * A JSON string safe inside a {@code <script>} element: every {@code <} is escaped, so no
     * {@code </script>} or {@code <!--} in a log's bytes can end or bend the element.
     */
    static String js(String s) {
        String j = Json.str(s);
        return j.indexOf('<') < 0 ? j : j.replace("<", "\\u003c");
    }

    /** Text for an HTML element's content. */
    static String html(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
