package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import dev.revenant.it.support.PowerCut;
import dev.revenant.log.LogReader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.RecordTypes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The promise of Revenant, tested on the demo key-value server (demo-apps' KvServer, a
 * single-threaded NIO selector loop with random ids in its replies): the server runs under the
 * agent, clients hammer it, it is killed with SIGKILL at random moments — some of them inside a
 * group commit, with records written but not yet forced — the power cut throws away what was not
 * forced, {@code revenant recover} brings it back, and every reply a client ever received must be
 * consistent with the recovered state: an acknowledged SET is readable with the value and the id
 * it was given, INCR replies never repeat and continue without a gap, clocks never run backwards
 * across the epochs. Then the recovered server takes more load and is killed again, in the same
 * log. With {@code commit=none} the same scenario must show the contradiction the outbox prevents.
 */
class KvRecoveryIT {
    static final int KILL_POINTS = Integer.getInteger("revenant.it.kvKillPoints", 20);
    static final int CYCLES_PER_LOG = 5;
    static final int CLIENTS = 4;
    static final int KEYS_PER_CLIENT = 8;
    /**
     * A stalled group commit must come after the checks that follow a recovery (one request per
     * key and two for the counter, each reply waiting for a force), inside the load that follows.
     */
    static final int STALL_AFTER_VERIFY = CLIENTS * KEYS_PER_CLIENT + 20;

    @TempDir
    Path tmp;

    /** What the clients were told, and what they asked without hearing back. */
    static final class Model {
        /** key -> {value, id} of the last acknowledged SET (or INCR) of that key. */
        final Map<String, String[]> acked = new ConcurrentHashMap<>();
        /** key -> value of a SET sent when the server died, never answered. */
        final Map<String, String> inflight = new ConcurrentHashMap<>();
        final Set<Long> incrs = ConcurrentHashMap.newKeySet();
        final AtomicLong maxIncr = new AtomicLong();
        final AtomicLong inflightIncrs = new AtomicLong();
        final AtomicLong replies = new AtomicLong();
    }

    /** A blocking line client with a read timeout. */
    static final class Client implements AutoCloseable {
        final Socket s;
        final BufferedReader in;
        final OutputStream out;

        Client(int port) throws IOException {
            s = new Socket();
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            s.setSoTimeout(30_000);
            in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            out = s.getOutputStream();
        }

        String call(String line) throws IOException {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            String r = in.readLine();
            if (r == null) {
                throw new IOException("connection closed");
            }
            return r;
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    /** One client's loop until the server dies or the test says stop. */
    static void load(int client, int port, Model m, long seed, AtomicBoolean stop, List<Throwable> failures) {
        Random rnd = new Random(seed);
        try (Client c = new Client(port)) {
            long n = 0;
            while (!stop.get()) {
                String key = "c" + client + "-k" + rnd.nextInt(KEYS_PER_CLIENT);
                int op = rnd.nextInt(10);
                if (op < 5) {
                    String value = "v" + client + "." + seed + "." + (n++);
                    m.inflight.put(key, value);
                    String r = c.call("SET " + key + " " + value);
                    check(r.startsWith("OK ") && r.length() == 19, "SET reply " + r);
                    m.acked.put(key, new String[] {value, r.substring(3)});
                    m.inflight.remove(key);
                } else if (op < 8) {
                    m.inflightIncrs.incrementAndGet();
                    String r = c.call("INCR ctr");
                    check(r.startsWith("INT "), "INCR reply " + r);
                    long v = Long.parseLong(r.substring(4));
                    check(m.incrs.add(v), "INCR gave " + v + " twice: the server forgot an answer it gave");
                    m.maxIncr.accumulateAndGet(v, Math::max);
                    m.inflightIncrs.decrementAndGet();
                } else {
                    String r = c.call("GET " + key);
                    String[] a = m.acked.get(key);
                    check(r.equals(a == null ? "NIL" : "VALUE " + a[0] + " " + a[1]),
                            "GET " + key + " gave " + r + " but the last acknowledged SET was "
                                    + (a == null ? "none" : a[0] + " " + a[1]));
                }
                m.replies.incrementAndGet();
            }
        } catch (IOException e) {
            // the server died under us: the op in flight stays uncertain
        } catch (AssertionError e) {
            failures.add(e);
        }
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    /** After a recovery: every key and the counter against what clients were told. Returns problems. */
    static List<String> verify(int port, Model m) throws IOException {
        List<String> problems = new ArrayList<>();
        try (Client c = new Client(port)) {
            for (int client = 0; client < CLIENTS; client++) {
                for (int k = 0; k < KEYS_PER_CLIENT; k++) {
                    String key = "c" + client + "-k" + k;
                    String r = c.call("GET " + key);
                    String[] a = m.acked.get(key);
                    String in = m.inflight.remove(key);
                    String expect = a == null ? "NIL" : "VALUE " + a[0] + " " + a[1];
                    if (r.equals(expect)) {
                        continue;
                    }
                    if (in != null && r.startsWith("VALUE " + in + " ")) {
                        m.acked.put(key, new String[] {in, r.substring(("VALUE " + in + " ").length())});
                        continue; // the uncertain SET took effect before the crash
                    }
                    problems.add("GET " + key + " = " + r + ", but the client was told " + expect);
                }
            }
            String r = c.call("GET ctr");
            long n = r.equals("NIL") ? 0 : Long.parseLong(r.split(" ")[1]);
            if (n < m.maxIncr.get()) {
                problems.add("counter is " + n + " after recovery, but a client was told " + m.maxIncr.get());
            }
            if (n > m.incrs.size() + m.inflightIncrs.get()) {
                problems.add("counter is " + n + ", more than " + m.incrs.size() + " acknowledged + "
                        + m.inflightIncrs.get() + " uncertain INCRs");
            }
            // The next INCR continues the sequence without a gap.
            String next = c.call("INCR ctr");
            if (!next.equals("INT " + (n + 1))) {
                problems.add("the first INCR after recovery gave " + next + ", expected INT " + (n + 1));
            } else {
                m.incrs.add(n + 1);
                m.maxIncr.accumulateAndGet(n + 1, Math::max);
            }
        }
        return problems;
    }

    static List<String> serverCommand() {
        return List.of(JavaProcess.javaBin(), "-cp", AgentStartupIT.demoJar().toString(), "dev.revenant.demo.KvServer",
                "0");
    }

    static Map<String, String> env(Path log, Path shadow, long stallAtForce) {
        Map<String, String> env = new LinkedHashMap<>(PowerCut.env(log, shadow));
        env.put("REVENANT_NO_PROGRESS", "1");
        if (stallAtForce > 0) {
            env.put("REVENANT_TEST_STALL_FORCE", Long.toString(stallAtForce));
        }
        return env;
    }

    /** A running server: the process to watch and the pid to kill. */
    record Server(JavaProcess proc, long pid, int port) {}

    static Server record(Path log, Map<String, String> env, String commit) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(),
                "-javaagent:" + Cli.agentJar() + "=log=" + log + ",commit=" + commit));
        cmd.addAll(serverCommand().subList(1, serverCommand().size()));
        JavaProcess p = JavaProcess.start(env, cmd);
        String l = p.await(s -> s.startsWith("kv listening on "), 60);
        return new Server(p, p.process.pid(), Integer.parseInt(l.substring("kv listening on ".length()).trim()));
    }

    static Server recover(Path log, Map<String, String> env, int port) throws Exception {
        return recover(log, env, port, serverCommand());
    }

    /** {@code revenant recover --json --log LOG -- <server>}, once it says the server is live on {@code port}. */
    static Server recover(Path log, Map<String, String> env, int port, List<String> server) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "recover",
                "--json", "--log", log.toString(), "--"));
        cmd.addAll(server);
        JavaProcess p = JavaProcess.start(env, cmd);
        String summary = p.await(s -> s.startsWith("{\"epoch\":"), 120);
        assertThat(summary).contains("\"listening\":\"/127.0.0.1:" + port + "\"");
        long pid = Long.parseLong(summary.replaceAll(".*\"pid\":(\\d+).*", "$1"));
        return new Server(p, pid, port);
    }

    static void kill(Server s) throws Exception {
        ProcessHandle.of(s.pid()).ifPresent(ProcessHandle::destroyForcibly);
        ProcessHandle.of(s.pid()).ifPresent(h -> h.onExit().join());
        s.proc().close();
    }

    /** Runs the clients until {@code killer} has killed the server. */
    static void loadUntilKilled(Server s, Model m, Random rnd, Runnable killer) throws Exception {
        // Seeds cut to 24 bits: they are part of every value a client writes.
        ClientThreads.run(CLIENTS, "kv-client", rnd,
                (client, seed, stop, failures) -> load(client, s.port(), m, seed & 0xFFFFFF, stop, failures), killer);
    }

    @Test
    void everyAnswerSurvivesKillPowerCutAndRecovery() throws Exception {
        FaultCase.run("kv-kill-power-cut", this::killPowerCutAndRecover);
    }

    private void killPowerCutAndRecover(FaultCase c) throws Exception {
        long seed = Long.getLong("revenant.it.seed", System.nanoTime());
        Random rnd = new Random(seed);
        int logs = Math.max(1, KILL_POINTS / CYCLES_PER_LOG);
        int point = 0;
        for (int l = 0; l < logs; l++) {
            Path log = tmp.resolve("kv-" + l);
            Path shadow = tmp.resolve("shadow-" + l);
            Files.createDirectories(log);
            Model m = new Model();
            boolean forced = rnd.nextInt(3) == 0;
            Server s = record(log, env(log, shadow, forced ? STALL_AFTER_VERIFY + rnd.nextInt(200) : -1), "pessimistic");
            for (int cycle = 0; cycle < CYCLES_PER_LOG; cycle++, point++) {
                Server victim = s;
                boolean inCommit = forced;
                long delay = 30 + rnd.nextInt(500);
                long before = m.replies.get();
                loadUntilKilled(victim, m, rnd, () -> {
                    try {
                        if (inCommit) {
                            victim.proc().awaitErr(x -> x.startsWith("revenant-test: stalled before force"), 60);
                        } else {
                            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                            while (m.replies.get() < before + 20 && System.nanoTime() < deadline) {
                                Thread.sleep(1);
                            }
                            Thread.sleep(delay);
                        }
                        kill(victim);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                PowerCut.Report cut = PowerCut.apply(log, shadow);
                forced = rnd.nextInt(3) == 0;
                s = recover(log, env(log, shadow, forced ? STALL_AFTER_VERIFY + rnd.nextInt(200) : -1), victim.port());
                List<String> problems = verify(s.port(), m);
                System.out.printf("kv kill point %d (log %d, cycle %d, %s): %d replies so far, %d uncertain INCRs, "
                        + "%s; %s%n", point, l, cycle, inCommit ? "inside a group commit" : "+" + delay + " ms",
                        m.replies.get(), m.inflightIncrs.get(), cut, problems.isEmpty() ? "consistent" : problems);
                c.check(problems.isEmpty(), "kill point " + point + " (seed " + seed + "): " + problems);
            }
            kill(s);
            assertClocksMonotonicAcrossEpochs(log);
            c.check(true, "clocks monotonic across the epochs of log " + l);
        }
    }

    /** Every CLOCK value of each kind in epoch e+1 is at least the largest of epoch e. */
    static void assertClocksMonotonicAcrossEpochs(Path log) throws IOException {
        Map<Integer, TreeMap<Integer, long[]>> byKind = new HashMap<>(); // kind -> epoch -> {min, max}
        try (LogReader r = LogReader.open(log, LogReader.Mode.LENIENT)) {
            for (LogRecord rec; (rec = r.next()) != null; ) {
                if (rec.type() != RecordTypes.CLOCK || rec.payload().length != 9) {
                    continue;
                }
                int kind = rec.payload()[0];
                long v = ByteBuffer.wrap(rec.payload()).order(ByteOrder.LITTLE_ENDIAN).getLong(1);
                long[] mm = byKind.computeIfAbsent(kind, k -> new TreeMap<>())
                        .computeIfAbsent(rec.epoch(), e -> new long[] {Long.MAX_VALUE, Long.MIN_VALUE});
                mm[0] = Math.min(mm[0], v);
                mm[1] = Math.max(mm[1], v);
            }
        }
        assertThat(byKind).as("the server read the clock").isNotEmpty();
        for (Map.Entry<Integer, TreeMap<Integer, long[]>> k : byKind.entrySet()) {
            long prevMax = Long.MIN_VALUE;
            for (Map.Entry<Integer, long[]> e : k.getValue().entrySet()) {
                assertThat(e.getValue()[0]).as("clock kind " + k.getKey() + " in epoch " + e.getKey()
                        + " starts at or after the previous epoch's last value").isGreaterThanOrEqualTo(prevMax);
                prevMax = e.getValue()[1];
            }
        }
    }

    @Test
    void aPortTakenByAnotherProcessStopsRecoveryClearlyAndLeavesTheLogAsItWas() throws Exception {
        Path log = Files.createDirectories(tmp.resolve("taken"));
        Server s = record(log, Map.of("REVENANT_NO_PROGRESS", "1"), "pessimistic");
        String id;
        try (Client c = new Client(s.port())) {
            String r = c.call("SET greeting hello");
            assertThat(r).startsWith("OK ");
            id = r.substring(3);
        }
        kill(s);
        Cli.Result before = Cli.run("inspect", "--log", log.toString(), "--no-records");
        try (java.net.ServerSocket squatter = new java.net.ServerSocket()) {
            squatter.bind(new java.net.InetSocketAddress("127.0.0.1", s.port()));
            List<String> cmd = new ArrayList<>(List.of("recover", "--log", log.toString(), "--"));
            cmd.addAll(serverCommand());
            Cli.Result r = Cli.run(cmd.toArray(String[]::new));
            assertThat(r.exit()).as(r.err()).isEqualTo(1);
            assertThat(r.err()).contains("recovery cannot bind /127.0.0.1:" + s.port())
                    .contains("is another process on that port?").contains("the log is unchanged")
                    .contains("stopped before it went live (exit code 1)");
        }
        Cli.Result after = Cli.run("inspect", "--log", log.toString(), "--no-records");
        assertThat(after.out()).as("no new session, no record").isEqualTo(before.out());
        // Once the port is free the same log recovers, with the answer it gave.
        Server r = recover(log, Map.of("REVENANT_NO_PROGRESS", "1"), s.port());
        try (Client c = new Client(r.port())) {
            assertThat(c.call("GET greeting")).isEqualTo("VALUE hello " + id);
        } finally {
            kill(r);
        }
    }

    @Test
    void withoutTheOutboxAPowerCutContradictsAnAnswer() throws Exception {
        // commit=none sends replies before their determinants are forced; the log forces on its own
        // only every 200 ms, so a power cut right after some replies loses what they told.
        Random rnd = new Random(Long.getLong("revenant.it.seed", System.nanoTime()));
        List<String> contradictions = new ArrayList<>();
        for (int round = 0; round < 6 && contradictions.isEmpty(); round++) {
            Path log = tmp.resolve("none-" + round);
            Path shadow = tmp.resolve("none-shadow-" + round);
            Files.createDirectories(log);
            Model m = new Model();
            Server s = record(log, env(log, shadow, -1), "none");
            loadUntilKilled(s, m, rnd, () -> {
                try {
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (m.replies.get() < 300 && System.nanoTime() < deadline) {
                        Thread.sleep(1);
                    }
                    kill(s);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            PowerCut.apply(log, shadow);
            Server r = recover(log, env(log, shadow, -1), s.port());
            contradictions.addAll(verify(r.port(), m));
            System.out.printf("commit=none round %d: %d replies before the kill; %s%n", round, m.replies.get(),
                    contradictions.isEmpty() ? "no contradiction this time" : contradictions);
            kill(r);
        }
        assertThat(contradictions).as("with commit=none a power cut must contradict some answer a client got")
                .isNotEmpty();
    }
}
