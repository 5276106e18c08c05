package dev.revenant.bench.startup;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Start-up overhead of the agent, side by side in one run: each scenario N times without and with
 * {@code -javaagent:revenant-agent.jar=log=<fresh dir>}, interleaved: run i goes through every
 * scenario, each in ABBA order (the baseline first when i is even, the agent first when odd), so
 * drift on a shared machine hits both sides alike. Medians.
 *
 * <p>Scenarios:
 * <ul>
 * <li>{@code hello}: the whole hello-world process ({@link HelloApp}, {@link HelloRun}): spawn to
 *     {@code main} and the CPU used by then, wall and CPU time (user + system) of the whole process;
 * <li>{@code kv}, {@code http}: spawn to the first answered request of the demo apps KvServer and
 *     HttpCounter ({@link FirstAnswer}; needs {@code --demo-jar});
 * <li>{@code hello-200mb}, {@code kv-200mb}: the same with a class path of ~200 MB more jars
 *     ({@link BigClassPath}; needs {@code --big-cp}), which the agent's app fingerprint hashes.
 * </ul>
 * <p>With {@code --baseline-agent other/revenant-agent.jar} the baseline side runs that build of
 * the agent instead of no agent, interleaved the same way: two builds compared in one run, which
 * on a machine whose speed drifts is the only comparison that holds (the table then shows the
 * difference between the builds, without verdicts).
 *
 * <p>Prints each run, the medians of hello, the agent's own phase timing ({@code REVENANT_DEBUG_STARTUP=1})
 * of each scenario's median run, the file tree of one log directory, and the verdict table against
 * the targets ({@link StartupReport}); optionally writes JSON.
 *
 * <pre>
 * java dev.revenant.bench.startup.StartupBenchmark --agent agent/target/revenant-agent.jar
 *     [--java /path/to/bin/java] [--runs 10] [--agent-args k=v,...] [--work dir] [--json file]
 *     [--extra-cp path] [--jvm-opt -Xfoo]... [--verify]
 *     [--demo-jar demo-apps.jar] [--big-cp dir] [--big-cp-mb 200] [--scenarios hello,kv,...]
 *     [--baseline-agent other/revenant-agent.jar]
 * </pre>
 *
 * Agent JVMs always get {@code -Dchronicle.analytics.disable=true}. References JDK types only:
 * {@code benchmarks/startup/run.sh} compiles it on its own.
 */
public final class StartupBenchmark {

    static final String NO_ANALYTICS = "-Dchronicle.analytics.disable=true";
    private static final long ANSWER_TIMEOUT_MILLIS = 120_000;

    private final Map<String, String> opts = new LinkedHashMap<>();
    private final List<String> jvmOpts = new ArrayList<>();
    /** The agent build the baseline side runs, or null for no agent. */
    private Path baseline;

    private StartupBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        StartupBenchmark b = new StartupBenchmark();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--verify" -> b.opts.put("verify", "true");
                case "--jvm-opt" -> b.jvmOpts.add(args[++i]);
                case "--agent", "--java", "--runs", "--agent-args", "--work", "--json", "--extra-cp", "--demo-jar",
                    "--big-cp", "--big-cp-mb", "--scenarios", "--baseline-agent" -> b.opts.put(a.substring(2), args[++i]);
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
            + " [--work dir] [--json file] [--extra-cp path] [--jvm-opt opt]... [--verify]"
            + " [--demo-jar demo-apps.jar] [--big-cp dir] [--big-cp-mb 200] [--scenarios hello,kv,http,hello-200mb,kv-200mb]"
            + " [--baseline-agent other/revenant-agent.jar]";
    }

    private void run() throws Exception {
        Path agent = Path.of(opts.get("agent")).toAbsolutePath();
        baseline = opts.containsKey("baseline-agent") ? Path.of(opts.get("baseline-agent")).toAbsolutePath() : null;
        if (baseline != null && !Files.isRegularFile(baseline)) {
            throw new IllegalArgumentException("no baseline agent jar at " + baseline);
        }
        String java = opts.getOrDefault("java", Path.of(System.getProperty("java.home"), "bin", "java").toString());
        int runs = Integer.parseInt(opts.getOrDefault("runs", "10"));
        String agentArgs = opts.getOrDefault("agent-args", "");
        Path work = opts.containsKey("work") ? Path.of(opts.get("work")) : Files.createTempDirectory("revenant-startup-");
        Files.createDirectories(work);
        Path app = work.resolve("app");
        writeApp(app);
        String helloCp = app + (opts.containsKey("extra-cp") ? File.pathSeparator + opts.get("extra-cp") : "");
        String demoJar = opts.containsKey("demo-jar") ? Path.of(opts.get("demo-jar")).toAbsolutePath().toString() : null;
        String bigCp = null;
        long bigBytes = 0;
        if (opts.containsKey("big-cp")) {
            List<Path> jars = BigClassPath.ensure(Path.of(opts.get("big-cp")).toAbsolutePath(),
                Integer.parseInt(opts.getOrDefault("big-cp-mb", "200")));
            bigCp = BigClassPath.classPath(jars);
            bigBytes = BigClassPath.size(jars);
        }

        List<String> scenarios = new ArrayList<>();
        scenarios.add("hello");
        if (demoJar != null) {
            scenarios.addAll(List.of("kv", "http"));
        }
        if (bigCp != null) {
            scenarios.add("hello-200mb");
            if (demoJar != null) {
                scenarios.add("kv-200mb");
            }
        }
        if (opts.containsKey("scenarios")) {
            List<String> asked = List.of(opts.get("scenarios").split(","));
            for (String s : asked) {
                if (!scenarios.contains(s)) {
                    throw new IllegalArgumentException("scenario " + s + " is unknown or lacks --demo-jar/--big-cp");
                }
            }
            scenarios.retainAll(asked);
        }
        Map<String, String> classPaths = new LinkedHashMap<>();
        classPaths.put("hello", helloCp);
        classPaths.put("kv", demoJar);
        classPaths.put("http", demoJar);
        classPaths.put("hello-200mb", bigCp == null ? null : app + File.pathSeparator + bigCp);
        classPaths.put("kv-200mb", bigCp == null || demoJar == null ? null : demoJar + File.pathSeparator + bigCp);

        String loadStart = StartupSupport.loadAverage();
        String started = Instant.now().toString();
        System.out.println("# revenant start-up benchmark, " + started);
        System.out.println("java:      " + java + " (" + StartupSupport.javaVersion(java) + ")");
        System.out.println("agent:     " + agent + " (" + Files.size(agent) / 1024 + " KiB)"
            + (agentArgs.isEmpty() ? "" : ", options " + agentArgs));
        if (baseline != null) {
            System.out.println("baseline:  " + baseline + " (" + Files.size(baseline) / 1024 + " KiB), the same options,"
                + " instead of no agent");
        }
        System.out.println("hello:     " + HelloApp.class.getName() + ", class path " + helloCp);
        if (demoJar != null) {
            System.out.println("demo apps: " + demoJar);
        }
        if (bigCp != null) {
            System.out.printf(Locale.ROOT, "big cp:    %.1f MB in %d jars under %s%n", bigBytes / 1e6,
                bigCp.split(File.pathSeparator).length, Path.of(opts.get("big-cp")).toAbsolutePath());
        }
        System.out.println("scenarios: " + String.join(", ", scenarios));
        System.out.println("runs:      " + runs + " x (" + baseName() + ", agent) per scenario, interleaved, ABBA order;"
            + " load average now " + loadStart);
        System.out.println();

        List<Sample> all = new ArrayList<>();
        // one unmeasured run each way per scenario: page cache and the JIT's own files warm
        for (String s : scenarios) {
            for (boolean withAgent : new boolean[] {false, true}) {
                runOne(s, java, agent, agentArgs, classPaths.get(s), work.resolve("logs/warmup-" + s), withAgent, -1);
            }
        }
        for (int i = 0; i < runs; i++) {
            for (String s : scenarios) {
                boolean[] order = i % 2 == 0 ? new boolean[] {false, true} : new boolean[] {true, false};
                for (boolean withAgent : order) {
                    Sample r = runOne(s, java, agent, agentArgs, classPaths.get(s), work.resolve("logs/" + s + "-run-" + i),
                        withAgent, i);
                    all.add(r);
                    System.out.printf(Locale.ROOT, "%-3d %-12s %-9s %s%n", i, s, withAgent ? "agent" : baseName(),
                        r.metrics().entrySet().stream().filter(e -> !Double.isNaN(e.getValue()))
                            .map(e -> String.format(Locale.ROOT, "%s=%.0f", e.getKey(), e.getValue()))
                            .collect(Collectors.joining(" ")));
                }
            }
        }

        printHello(all, runs, baseName());
        for (String s : scenarios) {
            String metric = s.startsWith("hello") ? "wall" : "answer";
            Sample m = StartupReport.medianAgentRun(all, s, metric);
            if (m != null && m.phases() != null) {
                System.out.printf(Locale.ROOT, "%nagent phases of %s's median run (%s %.0f ms, log durable at %.0f ms): %s%n",
                    s, metric, m.get(metric), m.get("durable"), m.phases());
            }
        }
        Path firstLog = work.resolve("logs/hello-run-0");
        if (scenarios.contains("hello")) {
            System.out.println();
            System.out.println("log directory of hello's run 0 (" + firstLog + "):");
            StartupSupport.printTree(firstLog);
            if (opts.containsKey("verify")) {
                Process v = new ProcessBuilder(java, NO_ANALYTICS, "-jar", agent.toString(), "verify", "--log",
                    firstLog.toString()).redirectErrorStream(true).start();
                String out = new String(v.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
                System.out.println("revenant verify: exit " + v.waitFor() + ": " + out.replace('\n', ' '));
            }
        }
        StartupReport.printTable(all, java, baseName(), baseline == null);
        System.out.println("load average at the start " + loadStart);
        if (opts.containsKey("json")) {
            Map<String, String> header = new LinkedHashMap<>();
            header.put("started", StartupSupport.q(started));
            header.put("java", StartupSupport.q(java));
            header.put("javaVersion", StartupSupport.q(StartupSupport.javaVersion(java)));
            header.put("agent", StartupSupport.q(agent.toString()));
            header.put("agentArgs", StartupSupport.q(agentArgs));
            header.put("baselineAgent", baseline == null ? "null" : StartupSupport.q(baseline.toString()));
            header.put("runs", Integer.toString(runs));
            header.put("scenarios", "[" + scenarios.stream().map(StartupSupport::q).collect(Collectors.joining(", "))
                + "]");
            header.put("bigClassPathBytes", Long.toString(bigBytes));
            header.put("loadAverageStart", StartupSupport.q(loadStart));
            header.put("loadAverageEnd", StartupSupport.q(StartupSupport.loadAverage()));
            StartupReport.writeJson(Path.of(opts.get("json")), header, all);
            System.out.println("\nJSON written to " + opts.get("json"));
        }
    }

    private Sample runOne(String scenario, String java, Path agent, String agentArgs, String cp, Path log,
        boolean withAgent, int index) throws IOException, InterruptedException {
        List<String> agentOpts = List.of();
        if (!withAgent && baseline != null) {
            agent = baseline;
            log = log.resolveSibling(log.getFileName() + "-baseline");
        }
        if (withAgent || baseline != null) {
            StartupSupport.deleteRecursively(log);
            agentOpts = List.of(NO_ANALYTICS,
                "-javaagent:" + agent + "=log=" + log + (agentArgs.isEmpty() ? "" : "," + agentArgs));
        }
        Sample r = switch (scenario) {
            case "hello", "hello-200mb" -> HelloRun.run(scenario, java, jvmOpts, agentOpts, cp, index);
            case "kv", "kv-200mb" -> FirstAnswer.run(scenario, FirstAnswer.App.KV, java, jvmOpts, agentOpts, cp, log,
                index, ANSWER_TIMEOUT_MILLIS);
            case "http" -> FirstAnswer.run(scenario, FirstAnswer.App.HTTP, java, jvmOpts, agentOpts, cp, log, index,
                ANSWER_TIMEOUT_MILLIS);
            default -> throw new IllegalArgumentException(scenario);
        };
        // the side it ran on (a baseline build attaches an agent too)
        return r.agent() == withAgent ? r : new Sample(r.scenario(), withAgent, r.index(), r.metrics(), r.phases());
    }

    private String baseName() {
        return baseline == null ? "no agent" : "baseline";
    }

    /** The hello scenario as before issue 13: medians of spawn to main, CPU to main, the whole run. */
    private static void printHello(List<Sample> all, int runs, String baseName) {
        if (all.stream().noneMatch(s -> s.scenario().equals("hello"))) {
            return;
        }
        String[] metrics = {"toMain", "cpuToMain", "wall", "cpu"};
        System.out.println();
        System.out.printf(Locale.ROOT, "%-22s %16s %16s %16s %16s%n", "hello: median (min..max)", "toMain ms",
            "cpuToMain ms", "wall ms", "cpu ms");
        for (boolean agent : new boolean[] {false, true}) {
            System.out.printf(Locale.ROOT, "%-22s", agent ? "with agent" : baseName.equals("no agent") ? "without agent" : baseName);
            for (String m : metrics) {
                System.out.printf(Locale.ROOT, " %16s", StartupReport.range(all, "hello", agent, m));
            }
            System.out.println();
        }
        System.out.printf(Locale.ROOT, "%-22s", baseName.equals("no agent") ? "ADDED by the agent" : "agent - baseline");
        for (String m : metrics) {
            System.out.printf(Locale.ROOT, " %16.1f", StartupReport.median(all, "hello", true, m)
                - StartupReport.median(all, "hello", false, m));
        }
        System.out.println();
        double[] durable = StartupReport.values(all, "hello", true, "durable");
        if (durable.length > 0) {
            System.out.printf(Locale.ROOT, "%-22s %16.1f   (agent runs: launch until the log's header and environment"
                + " record were durable, %d of %d runs reported it; no reply can leave before that)%n",
                "log durable at", StartupSupport.median(durable), durable.length, runs);
        }
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
}
