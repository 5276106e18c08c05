package dev.revenant.bench.startup;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Start-up overhead of the agent: N interleaved runs of a trivial app ({@link HelloApp}) in a fresh
 * JVM, without and with {@code -javaagent:revenant-agent.jar=log=<fresh dir>}, in ABBA order (run i
 * starts with the baseline when i is even, with the agent when odd) so drift on a shared machine
 * hits both sides alike.
 *
 * <p>Per run: <b>time to main</b> (wall clock from just before the process is spawned to the first
 * statement of {@code main}; under the agent premain has returned by then, i.e. the log is open
 * and its header and environment record are durable), <b>CPU to main</b> (CPU time of all the
 * JVM's threads at that moment: less sensitive to other load on the machine) and <b>total</b>
 * (wall clock of the whole run, exit and the agent's shutdown included). Prints each run, the
 * medians, the added milliseconds (median with agent minus median without), the agent's own phase
 * timing ({@code REVENANT_DEBUG_STARTUP=1}) of the median run, the file tree of one log directory,
 * and optionally writes JSON.
 *
 * <pre>
 * java dev.revenant.bench.startup.StartupBenchmark --agent agent/target/revenant-agent.jar
 *     [--java /path/to/bin/java] [--runs 10] [--agent-args k=v,...] [--work dir] [--json file]
 *     [--extra-cp path] [--jvm-opt -Xfoo]... [--verify]
 * </pre>
 *
 * References JDK types only: {@code benchmarks/startup/run.sh} compiles it on its own.
 */
public final class StartupBenchmark {

    private static final Pattern MAIN_ENTRY = Pattern.compile("main-entry wallMillis=(\\d+) cpuNanos=(-?\\d+)");
    private static final Pattern DURABLE = Pattern.compile("log durable wallMillis=(\\d+)");
    private static final Pattern PHASES = Pattern.compile("revenant startup: premain began at JVM uptime (\\d+) ms;(.*)");

    private final Map<String, String> opts = new LinkedHashMap<>();
    private final List<String> jvmOpts = new ArrayList<>();

    record Run(boolean agent, int index, double toMain, double cpuToMain, double total, String phases, double toDurable) {}

    private StartupBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        StartupBenchmark b = new StartupBenchmark();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--verify" -> b.opts.put("verify", "true");
                case "--jvm-opt" -> b.jvmOpts.add(args[++i]);
                case "--agent", "--java", "--runs", "--agent-args", "--work", "--json", "--extra-cp" ->
                    b.opts.put(a.substring(2), args[++i]);
                default -> {
                    System.err.println("unknown option " + a + "\n" + usage());
                    System.exit(2);
                }
            }
        }
        if (!b.opts.containsKey("agent")) {
            System.err.println(usage());
            System.exit(2);
        }
        b.run();
    }

    private static String usage() {
        return "usage: StartupBenchmark --agent revenant-agent.jar [--java bin/java] [--runs N] [--agent-args k=v,...]"
            + " [--work dir] [--json file] [--extra-cp path] [--jvm-opt opt]... [--verify]";
    }

    private void run() throws Exception {
        Path agent = Path.of(opts.get("agent")).toAbsolutePath();
        String java = opts.getOrDefault("java", Path.of(System.getProperty("java.home"), "bin", "java").toString());
        int runs = Integer.parseInt(opts.getOrDefault("runs", "10"));
        String agentArgs = opts.getOrDefault("agent-args", "");
        Path work = opts.containsKey("work") ? Path.of(opts.get("work")) : Files.createTempDirectory("revenant-startup-");
        Files.createDirectories(work);
        Path app = work.resolve("app");
        writeApp(app);
        String cp = app.toString() + (opts.containsKey("extra-cp") ? File.pathSeparator + opts.get("extra-cp") : "");

        System.out.println("# revenant start-up benchmark");
        System.out.println("java:   " + java + " (" + javaVersion(java) + ")");
        System.out.println("agent:  " + agent + " (" + Files.size(agent) / 1024 + " KiB)");
        System.out.println("app:    " + HelloApp.class.getName() + ", class path " + cp);
        System.out.println("runs:   " + runs + " x (without, with agent), ABBA order; load average now "
            + loadAverage());
        System.out.println();
        System.out.printf(Locale.ROOT, "%-4s %-8s %12s %12s %12s%n", "run", "agent", "toMain ms", "cpuToMain ms",
            "total ms");

        List<Run> all = new ArrayList<>();
        Path firstLog = null;
        // one unmeasured run each way: page cache and the JIT's own files warm
        runOnce(java, agent, agentArgs, cp, work.resolve("logs/warmup"), false, -1);
        runOnce(java, agent, agentArgs, cp, work.resolve("logs/warmup"), true, -1);
        for (int i = 0; i < runs; i++) {
            boolean[] order = i % 2 == 0 ? new boolean[] {false, true} : new boolean[] {true, false};
            for (boolean withAgent : order) {
                Path log = work.resolve("logs/run-" + i);
                Run r = runOnce(java, agent, agentArgs, cp, log, withAgent, i);
                if (withAgent && firstLog == null) {
                    firstLog = log;
                }
                all.add(r);
                System.out.printf(Locale.ROOT, "%-4d %-8s %12.1f %12.1f %12.1f%n", i, withAgent ? "yes" : "no",
                    r.toMain, r.cpuToMain, r.total);
            }
        }

        Summary base = summarize(all, false);
        Summary with = summarize(all, true);
        System.out.println();
        System.out.printf(Locale.ROOT, "%-22s %12s %12s %12s%n", "median (min..max)", "toMain ms", "cpuToMain ms",
            "total ms");
        System.out.printf(Locale.ROOT, "%-22s %12s %12s %12s%n", "without agent", base.fmt(0), base.fmt(1), base.fmt(2));
        System.out.printf(Locale.ROOT, "%-22s %12s %12s %12s%n", "with agent", with.fmt(0), with.fmt(1), with.fmt(2));
        System.out.printf(Locale.ROOT, "%-22s %12.1f %12.1f %12.1f%n", "ADDED by the agent", with.median[0] - base.median[0],
            with.median[1] - base.median[1], with.median[2] - base.median[2]);
        double[] durable = all.stream().filter(Run::agent).mapToDouble(Run::toDurable).filter(x -> !Double.isNaN(x))
            .sorted().toArray();
        if (durable.length > 0) {
            System.out.printf(Locale.ROOT, "%-22s %12.1f   (agent runs: launch until the log's header and environment"
                + " record were durable, %d of %d runs reported it; no reply can leave before that)%n",
                "log durable at", median(durable), durable.length, runs);
        }
        Run medianRun = all.stream().filter(Run::agent).sorted((a, b) -> Double.compare(a.toMain, b.toMain))
            .skip(runs / 2).findFirst().orElse(null);
        if (medianRun != null && medianRun.phases != null) {
            System.out.println();
            System.out.println("agent phases of the median run (REVENANT_DEBUG_STARTUP=1): " + medianRun.phases);
        }
        if (firstLog != null) {
            System.out.println();
            System.out.println("log directory of run 0 (" + firstLog + "):");
            printTree(firstLog);
            if (opts.containsKey("verify")) {
                Process v = new ProcessBuilder(java, "-jar", agent.toString(), "verify", "--log", firstLog.toString())
                    .redirectErrorStream(true).start();
                String out = new String(v.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
                System.out.println("revenant verify: exit " + v.waitFor() + ": " + out.replace('\n', ' '));
            }
        }
        if (opts.containsKey("json")) {
            writeJson(Path.of(opts.get("json")), java, agent, agentArgs, runs, all, base, with);
            System.out.println("\nJSON written to " + opts.get("json"));
        }
    }

    private Run runOnce(String java, Path agent, String agentArgs, String cp, Path log, boolean withAgent, int index)
        throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        cmd.addAll(jvmOpts);
        if (withAgent) {
            deleteRecursively(log);
            cmd.add("-javaagent:" + agent + "=log=" + log + (agentArgs.isEmpty() ? "" : "," + agentArgs));
        }
        cmd.add("-cp");
        cmd.add(cp);
        cmd.add(HelloApp.class.getName());
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        pb.environment().put("REVENANT_DEBUG_STARTUP", "1");
        long launch = System.currentTimeMillis();
        long t0 = System.nanoTime();
        Process p = pb.start();
        StringBuilder err = new StringBuilder();
        Thread errReader = new Thread(() -> drain(p.getErrorStream(), err));
        errReader.start();
        double toMain = Double.NaN;
        double cpu = Double.NaN;
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                out.add(line);
                Matcher m = MAIN_ENTRY.matcher(line);
                if (m.find()) {
                    toMain = Long.parseLong(m.group(1)) - launch;
                    cpu = Long.parseLong(m.group(2)) / 1e6;
                }
            }
        }
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("run timed out: " + cmd);
        }
        double total = (System.nanoTime() - t0) / 1e6;
        errReader.join();
        if (p.exitValue() != 0 || Double.isNaN(toMain)) {
            throw new IllegalStateException("run failed (exit " + p.exitValue() + "): " + cmd + "\nstdout: " + out
                + "\nstderr: " + err);
        }
        String phases = null;
        Matcher m = PHASES.matcher(err);
        if (m.find()) {
            phases = "premain began at JVM uptime " + m.group(1) + " ms;" + m.group(2);
        }
        // With commit=pessimistic the log finishes opening while main runs: when its header and
        // environment record were durable (the first moment a reply could leave) is worth a figure too.
        double toDurable = Double.NaN;
        Matcher d = DURABLE.matcher(err);
        if (d.find()) {
            toDurable = Long.parseLong(d.group(1)) - launch;
        }
        return new Run(withAgent, index, toMain, cpu, total, phases, toDurable);
    }

    private static void drain(InputStream in, StringBuilder into) {
        try {
            String s = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            synchronized (into) {
                into.append(s);
            }
        } catch (IOException ignored) {
            // process gone
        }
    }

    static final class Summary {
        final double[] median = new double[3];
        final double[] min = new double[3];
        final double[] max = new double[3];

        String fmt(int k) {
            return String.format(Locale.ROOT, "%.0f (%.0f..%.0f)", median[k], min[k], max[k]);
        }
    }

    private static Summary summarize(List<Run> runs, boolean agent) {
        Summary s = new Summary();
        for (int k = 0; k < 3; k++) {
            final int kk = k;
            double[] v = runs.stream().filter(r -> r.agent == agent)
                .mapToDouble(r -> kk == 0 ? r.toMain : kk == 1 ? r.cpuToMain : r.total).sorted().toArray();
            s.median[k] = median(v);
            s.min[k] = v.length == 0 ? Double.NaN : v[0];
            s.max[k] = v.length == 0 ? Double.NaN : v[v.length - 1];
        }
        return s;
    }

    static double median(double[] sorted) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** Writes HelloApp.class into {@code dir} (in its package folder): the app's whole class path. */
    private static void writeApp(Path dir) throws IOException {
        String entry = HelloApp.class.getName().replace('.', '/') + ".class";
        Path target = dir.resolve(entry);
        Files.createDirectories(target.getParent());
        try (InputStream in = HelloApp.class.getResourceAsStream("/" + entry)) {
            if (in == null) {
                throw new IOException("cannot find " + entry + " on the class path");
            }
            Files.write(target, in.readAllBytes());
        }
    }

    private static void printTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            System.out.println("  (missing)");
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted()::iterator) {
                String perms;
                try {
                    perms = PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
                } catch (UnsupportedOperationException e) {
                    perms = "?";
                }
                String rel = dir.relativize(p).toString();
                System.out.printf(Locale.ROOT, "  %s %12s  %s%s%n", perms,
                    Files.isDirectory(p) ? "-" : String.valueOf(Files.size(p)), rel.isEmpty() ? "." : rel,
                    Files.isDirectory(p) ? "/" : "");
            }
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted((a, b) -> b.getNameCount() - a.getNameCount())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static String javaVersion(String java) {
        try {
            Process p = new ProcessBuilder(java, "-version").redirectErrorStream(true).start();
            String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return s.lines().findFirst().orElse("?").trim();
        } catch (IOException | InterruptedException e) {
            return "?";
        }
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "?";
        }
    }

    private static void writeJson(Path file, String java, Path agent, String agentArgs, int runs, List<Run> all,
        Summary base, Summary with) throws IOException {
        if (file.getParent() != null) {
            Files.createDirectories(file.getParent());
        }
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            w.write("{\n");
            w.write("  \"benchmark\": \"startup\",\n");
            w.write("  \"java\": " + q(java) + ",\n");
            w.write("  \"javaVersion\": " + q(javaVersion(java)) + ",\n");
            w.write("  \"agent\": " + q(agent.toString()) + ",\n");
            w.write("  \"agentArgs\": " + q(agentArgs) + ",\n");
            w.write("  \"runs\": " + runs + ",\n");
            String[] keys = {"toMainMillis", "cpuToMainMillis", "totalMillis"};
            for (String side : List.of("without", "with")) {
                Summary s = side.equals("with") ? with : base;
                w.write("  " + q(side) + ": {");
                for (int k = 0; k < 3; k++) {
                    w.write((k == 0 ? "" : ", ") + q(keys[k]) + ": {\"median\": " + num(s.median[k]) + ", \"min\": "
                        + num(s.min[k]) + ", \"max\": " + num(s.max[k]) + "}");
                }
                w.write("},\n");
            }
            w.write("  \"added\": {");
            for (int k = 0; k < 3; k++) {
                w.write((k == 0 ? "" : ", ") + q(keys[k]) + ": " + num(with.median[k] - base.median[k]));
            }
            w.write("},\n");
            w.write("  \"samples\": [\n");
            for (int i = 0; i < all.size(); i++) {
                Run r = all.get(i);
                w.write("    {\"run\": " + r.index + ", \"agent\": " + r.agent + ", \"toMainMillis\": " + num(r.toMain)
                    + ", \"cpuToMainMillis\": " + num(r.cpuToMain) + ", \"totalMillis\": " + num(r.total)
                    + (Double.isNaN(r.toDurable) ? "" : ", \"toLogDurableMillis\": " + num(r.toDurable))
                    + (r.phases == null ? "" : ", \"phases\": " + q(r.phases)) + "}" + (i + 1 < all.size() ? "," : "")
                    + "\n");
            }
            w.write("  ]\n}\n");
        }
    }

    private static String num(double d) {
        return Double.isNaN(d) ? "null" : String.format(Locale.ROOT, "%.1f", d);
    }

    private static String q(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    static String join(double[] v) {
        return Arrays.toString(v);
    }
}
