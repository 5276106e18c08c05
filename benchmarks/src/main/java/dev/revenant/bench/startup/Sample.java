package dev.revenant.bench.startup;

import java.util.Map;

/**
 * One measured run of one scenario of {@link StartupBenchmark}: its figures by name (milliseconds;
 * NaN when the run did not report one) and the agent's phase timing line, if it printed one.
 */
record Sample(String scenario, boolean agent, int index, Map<String, Double> metrics, String phases) {

    double get(String metric) {
        Double v = metrics.get(metric);
        return v == null ? Double.NaN : v;
    }
}
