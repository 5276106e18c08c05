package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Watching a running agent and stopping a replay part-way: {@code revenant status} reads the
 * agent's MBean over the attach API and JMX from a KV server that records, and again after it was
 * killed and recovered; {@code replay --to} stops a replay of a program that prints one line per
 * step, alone and held under JDWP with {@code --suspend}; {@code stats} and {@code inspect} show
 * the writer's force timings and filter by time.
 */
class MonitoringIT {
    static final Map<String, String> ENV = Map.of("REVENANT_NO_PROGRESS", "1");

    @TempDir
    Path tmp;

    static Map<String, Object> status(long pid) throws Exception {
        Cli.Result r = Cli.run("status", "--pid", Long.toString(pid), "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        return MiniJson.object(r.out());
    }

    /** Status once the agent registered its MBean (it does so on a background thread after start-up). */
    static Map<String, Object> statusWhenRegistered(long pid) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            Cli.Result r = Cli.run("status", "--pid", Long.toString(pid), "--json");
            if (r.exit() == 0) {
                return MiniJson.object(r.out());
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("status never succeeded: " + r.err());
            }
            Thread.sleep(200);
        }
    }

    @Test
    void statusShowsTheCountersOfARecordingAndOfARecoveredServer() throws Exception {
        Path log = tmp.resolve("kv");
        KvRecoveryIT.Server s = KvRecoveryIT.record(log, ENV, "pessimistic");
        try {
            OpsCliIT.talk(s.port(), OpsCliIT.CONN1);
            Map<String, Object> a = statusWhenRegistered(s.pid());
            assertThat(MiniJson.at(a, "mbean")).isEqualTo("dev.revenant:type=Agent");
            assertThat(MiniJson.at(a, "role")).isEqualTo("record");
            assertThat(MiniJson.at(a, "phase")).isEqualTo("recording");
            assertThat(MiniJson.num(a, "epoch")).isZero();
            assertThat(MiniJson.num(a, "pid")).isEqualTo(s.pid());
            assertThat(MiniJson.num(a, "determinantsRecorded")).isPositive();
            assertThat(MiniJson.num(a, "recordsByType", "SOCKET_READ")).isGreaterThanOrEqualTo(OpsCliIT.CONN1.size());
            assertThat(MiniJson.num(a, "recordsByType", "HEADER")).isEqualTo(1);
            assertThat(MiniJson.num(a, "bytesAppended")).isPositive();
            assertThat(MiniJson.num(a, "forceCount")).isPositive();
            assertThat(MiniJson.list(a, "forceLatencyHistogram").stream().mapToLong(x -> ((Number) x).longValue())
                    .sum()).isEqualTo(MiniJson.num(a, "forceCount"));
            assertThat(MiniJson.num(a, "forceLatencyP50Micros")).isPositive();
            assertThat(MiniJson.num(a, "serverSocketsBound")).isEqualTo(1);
            assertThat(MiniJson.num(a, "connectionsAccepted")).isEqualTo(1);
            assertThat(MiniJson.num(a, "outboxBytesReleased")).isPositive();
            assertThat(MiniJson.num(a, "outputWritesReleased")).isGreaterThanOrEqualTo(OpsCliIT.CONN1.size());
            assertThat(((Number) MiniJson.at(a, "outputHeldMillisMax")).doubleValue()).isPositive();
            assertThat(MiniJson.num(a, "checkpoints")).isZero();
            assertThat(((Number) MiniJson.at(a, "jmxRegistrationMillis")).doubleValue()).isPositive();
            // Every answer arrived, so nothing is held any more, and what was appended is stable soon.
            assertThat(MiniJson.num(a, "outboxBytesHeld")).isZero();
            long stable = MiniJson.num(a, "stablePosition");
            assertThat(stable).isGreaterThanOrEqualTo(0).isLessThanOrEqualTo(MiniJson.num(a, "writtenPosition"));

            OpsCliIT.talk(s.port(), OpsCliIT.CONN2);
            Map<String, Object> b = status(s.pid());
            assertThat(MiniJson.num(b, "stablePosition")).isGreaterThan(stable);
            assertThat(MiniJson.num(b, "determinantsRecorded")).isGreaterThan(MiniJson.num(a, "determinantsRecorded"));
            assertThat(MiniJson.num(b, "forceCount")).isGreaterThan(MiniJson.num(a, "forceCount"));
            assertThat(MiniJson.num(b, "connectionsAccepted")).isEqualTo(2);
            assertThat(MiniJson.num(b, "outboxBytesHeld")).isZero();
            assertThat(MiniJson.num(b, "stableLagRecords")).isLessThanOrEqualTo(2); // a select may be in flight

            Cli.Result text = Cli.run("status", "--pid", Long.toString(s.pid()));
            assertThat(text.exit()).isZero();
            assertThat(text.out()).contains("role", "record").containsPattern("forceCount\\s+\\d+");
        } finally {
            KvRecoveryIT.kill(s);
        }
        // Attaching twice added nothing to the log: only the server's own thread (1) and the writer's header (0).
        Map<String, Object> inspect = MiniJson.object(Cli.run("inspect", "--log", log.toString(), "--json",
                "--no-records").out());
        assertThat(new ArrayList<Object>(((Map<?, ?>) MiniJson.at(inspect, "countsByThread")).keySet()))
                .containsOnly("0", "1");

        KvRecoveryIT.Server r = KvRecoveryIT.recover(log, ENV, s.port());
        try {
            Map<String, Object> c = statusWhenRegistered(r.pid());
            assertThat(MiniJson.at(c, "role")).isEqualTo("recover");
            assertThat(MiniJson.at(c, "phase")).isEqualTo("live");
            assertThat(MiniJson.num(c, "epoch")).isEqualTo(1);
            assertThat(MiniJson.num(c, "determinantsReplayed")).isPositive();
            long before = MiniJson.num(c, "determinantsRecorded");
            OpsCliIT.talk(r.port(), List.of("GET a", "INCR n"));
            Map<String, Object> d = status(r.pid());
            assertThat(MiniJson.num(d, "determinantsRecorded")).isGreaterThan(before);
            assertThat(MiniJson.num(d, "stablePosition")).isGreaterThan(MiniJson.num(c, "stablePosition"));
            assertThat(MiniJson.num(d, "outboxBytesHeld")).isZero();
            assertThat(MiniJson.num(d, "connectionsAccepted")).isEqualTo(1);
        } finally {
            KvRecoveryIT.kill(r);
        }
    }

    @Test
    void statusOfAProcessWithoutTheAgentIsAProblem() throws Exception {
        Cli.Result r = Cli.run("status", "--pid", Long.toString(ProcessHandle.current().pid()));
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("has no dev.revenant:type=Agent MBean");
        Cli.Result none = Cli.run("status", "--pid", "999999999");
        assertThat(none.exit()).isEqualTo(1);
        assertThat(none.err()).contains("cannot attach to process 999999999");
        assertThat(Cli.run("status").exit()).isEqualTo(2);
        assertThat(Cli.run("status", "--help").out()).contains("Usage: revenant status", "Exit codes:");
    }

    static List<String> stepsCommand() {
        return List.of(JavaProcess.javaBin(), "-cp", AgentStartupIT.demoJar().toString(), "dev.revenant.demo.Steps",
                "12");
    }

    /** Records the Steps demo; returns what it printed. */
    static List<String> recordSteps(Path log) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log));
        cmd.addAll(stepsCommand().subList(1, stepsCommand().size()));
        try (JavaProcess p = JavaProcess.start(ENV, cmd)) {
            assertThat(p.waitForExit(120)).isZero();
            Thread.sleep(50);
            return List.copyOf(p.lines);
        }
    }

    /** Positions of the main thread's clock records: one per step. */
    static List<Long> clockPositions(Path log) throws Exception {
        Map<String, Object> o = MiniJson.object(Cli.run("inspect", "--log", log.toString(), "--json", "--type", "CLOCK",
                "--thread", "1").out());
        List<Long> l = new ArrayList<>();
        for (Object r : MiniJson.list(o, "recordList")) {
            l.add(MiniJson.num(r, "position"));
        }
        return l;
    }

    @Test
    void replayToAPositionPrintsWhatTheRecordingPrintedUpToThere() throws Exception {
        Path log = tmp.resolve("steps");
        List<String> recorded = recordSteps(log);
        assertThat(recorded).hasSize(13).last().isEqualTo("done");
        List<Long> clocks = clockPositions(log);
        assertThat(clocks).hasSize(12);
        long at = clocks.get(5); // step 5 reads its clock here: steps 0..4 are printed before it

        List<String> cmd = new ArrayList<>(List.of("replay", "--log", log.toString(), "--to", Long.toString(at), "--"));
        cmd.addAll(stepsCommand());
        Cli.Result r = Cli.run(cmd.toArray(String[]::new));
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out().lines().toList()).isEqualTo(recorded.subList(0, 5));
        assertThat(r.err()).contains("revenant: replay stopped at position " + at + ": thread \"main\" (virtual id 1) "
                + "waits for its next determinant at position " + at + ": System.currentTimeMillis = ")
                .contains("the JVM exits");

        // Outside the log: a usage error naming its range.
        long last = MiniJson.num(OpsCliIT.verify(log), "lastPosition");
        for (String bad : List.of(Long.toString(last + 1), "-1")) {
            List<String> c = new ArrayList<>(List.of("replay", "--log", log.toString(), "--to", bad, "--"));
            c.addAll(stepsCommand());
            Cli.Result u = Cli.run(c.toArray(String[]::new));
            assertThat(u.exit()).as(bad).isEqualTo(2);
            assertThat(u.err()).as(bad).contains("--to " + bad + " is outside the log: its positions are 0.." + last);
        }
        List<String> c = new ArrayList<>(List.of("replay", "--log", log.toString(), "--suspend", "--"));
        c.addAll(stepsCommand());
        assertThat(Cli.run(c.toArray(String[]::new)).err()).contains("--suspend needs --to");
    }

    @Test
    void replaySuspendedHoldsTheJvmForADebugger() throws Exception {
        Path log = tmp.resolve("steps");
        List<String> recorded = recordSteps(log);
        long at = clockPositions(log).get(3);
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "replay",
                "--log", log.toString(), "--to", Long.toString(at), "--suspend", "--"));
        cmd.addAll(stepsCommand());
        long heldPid = -1;
        try (JavaProcess p = JavaProcess.start(ENV, cmd)) {
            String debugger = p.awaitErr(l -> l.startsWith("revenant replay: debugger: attach to 127.0.0.1:"), 60);
            Matcher m = Pattern.compile("127\\.0\\.0\\.1:(\\d+)").matcher(debugger);
            assertThat(m.find()).isTrue();
            int port = Integer.parseInt(m.group(1));
            String stop = p.awaitErr(l -> l.startsWith("revenant: replay stopped at position " + at + ":"), 60);
            assertThat(stop).contains("thread \"main\"", "the JVM is held (pid ");
            heldPid = Long.parseLong(stop.replaceAll(".*\\(pid (\\d+)\\).*", "$1"));
            assertThat(p.lines).isEqualTo(recorded.subList(0, 3));

            // A debugger can attach: the JDWP handshake is answered.
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
                s.setSoTimeout(10_000);
                OutputStream out = s.getOutputStream();
                out.write("JDWP-Handshake".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                InputStream in = s.getInputStream();
                byte[] answer = in.readNBytes(14);
                assertThat(new String(answer, StandardCharsets.US_ASCII)).isEqualTo("JDWP-Handshake");
            }
            Thread.sleep(500);
            assertThat(p.process.isAlive()).as("held, not exited").isTrue();
            assertThat(p.lines).hasSize(3);
        } finally {
            if (heldPid > 0) {
                ProcessHandle.of(heldPid).ifPresent(h -> {
                    h.destroyForcibly();
                    h.onExit().join();
                });
            }
        }
    }

    @Test
    void statsAndInspectShowForceTimingsAndFilterByTime() throws Exception {
        Path log = tmp.resolve("kv");
        KvRecoveryIT.Server s = KvRecoveryIT.record(log, ENV, "pessimistic");
        long started = System.currentTimeMillis();
        OpsCliIT.talk(s.port(), OpsCliIT.CONN1);
        OpsCliIT.talk(s.port(), OpsCliIT.CONN2);
        KvRecoveryIT.kill(s);

        Cli.Result r = Cli.run("stats", "--log", log.toString(), "--json", "--bucket", "1");
        assertThat(r.exit()).as(r.err()).isZero();
        Map<String, Object> o = MiniJson.object(r.out());
        long timed = MiniJson.num(o, "forces", "timed");
        assertThat(timed).isPositive();
        assertThat(MiniJson.list(o, "forces", "histogram").stream().mapToLong(x -> ((Number) x).longValue()).sum())
                .isEqualTo(timed);
        assertThat(MiniJson.list(o, "forces", "bucketBoundsMicros")).hasSize(
                MiniJson.list(o, "forces", "histogram").size() - 1);
        assertThat(MiniJson.num(o, "forces", "p99Micros")).isGreaterThanOrEqualTo(MiniJson.num(o, "forces", "p50Micros"))
                .isPositive();
        assertThat(((Number) MiniJson.at(o, "forces", "maxMillis")).doubleValue()).isPositive();
        assertThat(MiniJson.num(o, "stableLag", "timedForces")).isEqualTo(timed);
        assertThat(MiniJson.num(o, "stableLag", "maxRecords")).isGreaterThanOrEqualTo(0);
        assertThat(((Number) MiniJson.at(o, "stableLag", "maxMillis")).doubleValue()).isGreaterThanOrEqualTo(0);
        assertThat(MiniJson.num(o, "stableLag", "recordsPastWatermark")).isEqualTo(MiniJson.num(o, "lag"));
        assertThat(MiniJson.num(o, "checkpoints")).isZero();
        assertThat(MiniJson.num(o, "rate", "bucketSeconds")).isEqualTo(1);
        assertThat(MiniJson.list(o, "rate", "buckets").stream().mapToLong(b -> MiniJson.num(b, "records")).sum())
                .isEqualTo(MiniJson.num(o, "rate", "timedRecords"));
        assertThat(MiniJson.at(o, "rate", "timeSource").toString()).contains("timed force(s)");
        Cli.Result text = Cli.run("stats", "--log", log.toString());
        assertThat(text.out()).contains("forces (timed by the writer): " + timed)
                .contains("checkpoints: none").contains("stable lag at each force");

        // inspect: each record has a time; --since/--until keep those within.
        Map<String, Object> all = MiniJson.object(Cli.run("inspect", "--log", log.toString(), "--json").out());
        List<Object> records = MiniJson.list(all, "recordList");
        long start = MiniJson.num(all, "sessions", 0, "startedAtMillis");
        assertThat(records).allMatch(x -> MiniJson.num(x, "timeMillis") >= start);
        long lastTime = MiniJson.num(records.get(records.size() - 1), "timeMillis");
        assertThat(lastTime).isGreaterThanOrEqualTo(started - 5_000);

        Map<String, Object> since = MiniJson.object(Cli.run("inspect", "--log", log.toString(), "--json", "--since",
                Instant.ofEpochMilli(lastTime).toString()).out());
        assertThat(MiniJson.list(since, "recordList")).isNotEmpty()
                .allMatch(x -> MiniJson.num(x, "timeMillis") >= lastTime);
        Map<String, Object> until = MiniJson.object(Cli.run("inspect", "--log", log.toString(), "--json", "--until",
                "+0ms").out());
        assertThat(MiniJson.list(until, "recordList")).isNotEmpty()
                .allMatch(x -> MiniJson.num(x, "timeMillis") == start)
                .hasSizeLessThan(records.size());
        Map<String, Object> window = MiniJson.object(Cli.run("inspect", "--log", log.toString(), "--json", "--since",
                "+0s", "--until", "+1h").out());
        assertThat(MiniJson.list(window, "recordList")).hasSameSizeAs(records);
        Cli.Result bad = Cli.run("inspect", "--log", log.toString(), "--since", "yesterday");
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err()).contains("--since 'yesterday' is neither an instant");
    }
}
