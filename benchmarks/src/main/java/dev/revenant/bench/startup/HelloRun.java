package dev.revenant.bench.startup;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One run of the whole hello-world process ({@link HelloApp}), from spawn until it has exited and
 * been reaped. Figures (ms):
 * <ul>
 * <li>{@code toMain}: wall clock from just before the spawn to the first statement of {@code main}
 *     (under the agent premain has returned by then);
 * <li>{@code cpuToMain}: CPU time of all the JVM's threads at that moment (the app reads its own);
 * <li>{@code wall}: wall clock of the whole process, exit and the agent's shutdown included;
 * <li>{@code cpu}: user + system CPU time of the whole process, all threads, exit included: what
 *     {@code getrusage(RUSAGE_CHILDREN)} gained across the run ({@code /proc/self/stat}, 10 ms ticks);
 * <li>{@code durable}: agent runs: launch until the log's header and environment record were forced.
 * </ul>
 */
final class HelloRun {

    private static final Pattern MAIN_ENTRY = Pattern.compile("main-entry wallMillis=(\\d+) cpuNanos=(-?\\d+)");
    private static final Pattern DURABLE = Pattern.compile("log durable wallMillis=(\\d+)");
    private static final Pattern PHASES = Pattern.compile("revenant startup: premain began at JVM uptime (\\d+) ms;(.*)");

    private HelloRun() {
    }

    /** {@code agentOpts} attach the agent (empty for the baseline). Runs one child at a time only. */
    static synchronized Sample run(String scenario, String java, List<String> jvmOpts, List<String> agentOpts, String cp,
        int index) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        cmd.addAll(jvmOpts);
        cmd.addAll(agentOpts);
        cmd.add("-cp");
        cmd.add(cp);
        cmd.add(HelloApp.class.getName());
        ProcessBuilder pb = StartupSupport.processBuilder(cmd);
        double cpuBefore = StartupSupport.reapedChildrenCpuMillis();
        long launch = System.currentTimeMillis();
        long t0 = System.nanoTime();
        Process p = pb.start();
        StringBuilder err = new StringBuilder();
        Thread errReader = StartupSupport.drainer(p.getErrorStream(), err);
        double toMain = Double.NaN;
        double cpuToMain = Double.NaN;
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                out.add(line);
                Matcher m = MAIN_ENTRY.matcher(line);
                if (m.find()) {
                    toMain = Long.parseLong(m.group(1)) - launch;
                    cpuToMain = Long.parseLong(m.group(2)) / 1e6;
                }
            }
        }
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("run timed out: " + cmd);
        }
        double wall = (System.nanoTime() - t0) / 1e6;
        // waitFor returned: the JDK's reaper has waited for the child, its rusage is ours now
        double cpu = StartupSupport.reapedChildrenCpuMillis() - cpuBefore;
        errReader.join();
        if (p.exitValue() != 0 || Double.isNaN(toMain)) {
            throw new IllegalStateException("run failed (exit " + p.exitValue() + "): " + cmd + "\nstdout: " + out
                + "\nstderr: " + err);
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("toMain", toMain);
        m.put("cpuToMain", cpuToMain);
        m.put("wall", wall);
        m.put("cpu", cpu);
        m.put("durable", durableAt(err, launch));
        return new Sample(scenario, !agentOpts.isEmpty(), index, m, phases(err));
    }

    /** The agent's phase line ({@code REVENANT_DEBUG_STARTUP=1}), or null. */
    static String phases(CharSequence stderr) {
        Matcher m = PHASES.matcher(stderr);
        return m.find() ? "premain began at JVM uptime " + m.group(1) + " ms;" + m.group(2) : null;
    }

    /** Launch until the agent reported the log durable (ms), or NaN. */
    static double durableAt(CharSequence stderr, long launchWallMillis) {
        Matcher d = DURABLE.matcher(stderr);
        return d.find() ? Long.parseLong(d.group(1)) - launchWallMillis : Double.NaN;
    }
}
