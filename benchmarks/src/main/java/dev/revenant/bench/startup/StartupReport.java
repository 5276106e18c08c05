package dev.revenant.bench.startup;

import static dev.revenant.bench.startup.StartupSupport.num;
import static dev.revenant.bench.startup.StartupSupport.q;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The start-up benchmark's verdict (issue 13, "start-up as users feel it"): per figure the median
 * without the agent, with it, the difference, the ratio, the target for the difference and PASS or
 * FAIL; and the JSON file with every sample.
 */
final class StartupReport {

    /** One line of the table: a figure of a scenario, and how much the agent may add to it (NaN: no target). */
    record Row(String label, String scenario, String metric, double targetAddedMillis) {}

    static final List<Row> ROWS = List.of(
        new Row("(a) hello: wall, whole process", "hello", "wall", 400),
        new Row("(a) hello: CPU user+sys, whole process", "hello", "cpu", Double.NaN),
        new Row("(a) hello: spawn to main", "hello", "toMain", 300),
        new Row("(b) KvServer: spawn to first answer", "kv", "answer", 300),
        new Row("(b) KvServer: CPU used by the answer", "kv", "cpu", Double.NaN),
        new Row("(b) HttpCounter: spawn to first answer", "http", "answer", 300),
        new Row("(b) HttpCounter: CPU used by the answer", "http", "cpu", Double.NaN),
        new Row("(c) hello, 200 MB cp: wall, whole process", "hello-200mb", "wall", 400),
        new Row("(c) hello, 200 MB cp: CPU user+sys", "hello-200mb", "cpu", Double.NaN),
        new Row("(c) KvServer, 200 MB cp: spawn to first answer", "kv-200mb", "answer", 300),
        new Row("(c) KvServer, 200 MB cp: CPU used by the answer", "kv-200mb", "cpu", Double.NaN));

    private StartupReport() {
    }

    /** Sorted values of one figure of one side of a scenario, NaNs left out. */
    static double[] values(List<Sample> all, String scenario, boolean agent, String metric) {
        return all.stream().filter(s -> s.scenario().equals(scenario) && s.agent() == agent)
            .mapToDouble(s -> s.get(metric)).filter(x -> !Double.isNaN(x)).sorted().toArray();
    }

    static double median(List<Sample> all, String scenario, boolean agent, String metric) {
        return StartupSupport.median(values(all, scenario, agent, metric));
    }

    /** "median (min..max)" of one figure. */
    static String range(List<Sample> all, String scenario, boolean agent, String metric) {
        double[] v = values(all, scenario, agent, metric);
        return v.length == 0 ? "-" : String.format(Locale.ROOT, "%.0f (%.0f..%.0f)", StartupSupport.median(v), v[0],
            v[v.length - 1]);
    }

    /** The agent run of a scenario whose {@code metric} is the median one (the upper middle of an even count). */
    static Sample medianAgentRun(List<Sample> all, String scenario, String metric) {
        List<Sample> runs = new ArrayList<>(all.stream().filter(s -> s.scenario().equals(scenario) && s.agent())
            .filter(s -> !Double.isNaN(s.get(metric))).toList());
        runs.sort((a, b) -> Double.compare(a.get(metric), b.get(metric)));
        return runs.isEmpty() ? null : runs.get(runs.size() / 2);
    }

    /**
     * The table of {@link #ROWS}: {@code baseName} is the other side ("no agent", or "baseline" when
     * two agent builds are compared); the targets and verdicts only against no agent.
     */
    static void printTable(List<Sample> all, String java, String baseName, boolean verdicts) {
        System.out.println();
        System.out.println("## issue 13: start-up as users feel it (" + java + "), medians in ms; load average now "
            + StartupSupport.loadAverage());
        String fmt = "%-48s %9s %9s %9s %7s %9s  %s%n";
        System.out.printf(Locale.ROOT, fmt, "figure", baseName, "agent", "delta", "ratio", "target", "verdict");
        for (Row r : ROWS) {
            double base = median(all, r.scenario, false, r.metric);
            double with = median(all, r.scenario, true, r.metric);
            if (Double.isNaN(base) && Double.isNaN(with)) {
                continue; // scenario not run
            }
            double target = verdicts ? r.targetAddedMillis : Double.NaN;
            System.out.printf(Locale.ROOT, fmt, r.label, f0(base), f0(with), signed(with - base),
                Double.isNaN(base) || base == 0 ? "-" : String.format(Locale.ROOT, "%.2fx", with / base),
                Double.isNaN(target) ? "-" : String.format(Locale.ROOT, "<=+%.0f", target),
                verdict(base, with, target));
        }
    }

    private static String verdict(double base, double with, double target) {
        if (Double.isNaN(target)) {
            return "";
        }
        if (Double.isNaN(base) || Double.isNaN(with)) {
            return "n/a";
        }
        return with - base <= target ? "PASS" : "FAIL";
    }

    private static String f0(double d) {
        return Double.isNaN(d) ? "-" : String.format(Locale.ROOT, "%.0f", d);
    }

    private static String signed(double d) {
        return Double.isNaN(d) ? "-" : String.format(Locale.ROOT, "%+.0f", d);
    }

    static void writeJson(Path file, Map<String, String> header, List<Sample> all) throws IOException {
        if (file.getParent() != null) {
            Files.createDirectories(file.getParent());
        }
        Set<String> scenarios = new LinkedHashSet<>();
        all.forEach(s -> scenarios.add(s.scenario()));
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            w.write("{\n  \"benchmark\": \"startup\",\n");
            for (Map.Entry<String, String> e : header.entrySet()) {
                w.write("  " + q(e.getKey()) + ": " + e.getValue() + ",\n");
            }
            // The hello scenario under the keys of the earlier files (totalMillis: the wall clock of the run).
            String[][] keys = {{"toMain", "toMainMillis"}, {"cpuToMain", "cpuToMainMillis"}, {"wall", "totalMillis"},
                {"cpu", "cpuMillis"}};
            for (boolean agent : new boolean[] {false, true}) {
                w.write("  " + q(agent ? "with" : "without") + ": {");
                for (int k = 0; k < keys.length; k++) {
                    double[] v = values(all, "hello", agent, keys[k][0]);
                    w.write((k == 0 ? "" : ", ") + q(keys[k][1]) + ": " + stats(v));
                }
                w.write("},\n");
            }
            w.write("  \"added\": {");
            for (int k = 0; k < keys.length; k++) {
                w.write((k == 0 ? "" : ", ") + q(keys[k][1]) + ": " + num(median(all, "hello", true, keys[k][0])
                    - median(all, "hello", false, keys[k][0])));
            }
            w.write("},\n  \"comparison\": [\n");
            List<String> rows = new ArrayList<>();
            for (Row r : ROWS) {
                double base = median(all, r.scenario, false, r.metric);
                double with = median(all, r.scenario, true, r.metric);
                if (!scenarios.contains(r.scenario)) {
                    continue;
                }
                rows.add("    {\"figure\": " + q(r.label) + ", \"scenario\": " + q(r.scenario) + ", \"metric\": "
                    + q(r.metric) + ", \"withoutMedianMillis\": " + num(base) + ", \"withMedianMillis\": " + num(with)
                    + ", \"addedMillis\": " + num(with - base) + ", \"ratio\": "
                    + (base > 0 ? String.format(Locale.ROOT, "%.3f", with / base) : "null")
                    + ", \"targetAddedMillis\": " + num(r.targetAddedMillis) + ", \"verdict\": "
                    + q(verdict(base, with, r.targetAddedMillis)) + "}");
            }
            w.write(String.join(",\n", rows) + "\n  ],\n  \"samples\": [\n");
            for (int i = 0; i < all.size(); i++) {
                Sample s = all.get(i);
                StringBuilder sb = new StringBuilder("    {\"scenario\": " + q(s.scenario()) + ", \"run\": " + s.index()
                    + ", \"agent\": " + s.agent());
                s.metrics().forEach((k, v) -> sb.append(", ").append(q(k.equals("attempts") ? k : k + "Millis")).append(": ")
                    .append(num(v)));
                if (s.phases() != null) {
                    sb.append(", \"phases\": ").append(q(s.phases()));
                }
                w.write(sb.append('}').append(i + 1 < all.size() ? ",\n" : "\n").toString());
            }
            w.write("  ]\n}\n");
        }
    }

    private static String stats(double[] v) {
        return v.length == 0 ? "null" : "{\"median\": " + num(StartupSupport.median(v)) + ", \"min\": " + num(v[0])
            + ", \"max\": " + num(v[v.length - 1]) + "}";
    }
}
