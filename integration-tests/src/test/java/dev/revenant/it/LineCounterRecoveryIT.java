package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import dev.revenant.it.support.PowerCut;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Blocking {@code java.net} sockets under the agent, on demo-apps' LineCounter: a single-threaded
 * {@code ServerSocket} server that serves one client at a time, reports every INCR (with a random
 * id) to an audit server over an outgoing connection before it answers, and times out idle reads.
 *
 * <p>The audit server is this test: the outside world. Every kill (SIGKILL, some of them inside a
 * group commit) is followed by the power cut and {@code revenant recover}; then every answer a
 * client or the audit server ever received must agree with the recovered server: no INCR number
 * told twice with different ids, the counter at least as high as anything told and continuing
 * without a gap, on the same port.
 *
 * <p>Each test runs twice: on {@code java.net.Socket}/{@code ServerSocket} ({@code NioSocketImpl}),
 * and on the socket adaptors of NIO channels with a non-blocking first audit connect.
 */
class LineCounterRecoveryIT {
    static final int KILL_POINTS = Integer.getInteger("revenant.it.lineCounterKillPoints", 8);
    static final String LISTENING = "linecounter listening on ";

    @TempDir
    Path tmp;

    /** The audit server: what the counter reported, per INCR number, over all its connections. */
    static final class Audit implements AutoCloseable {
        final ServerSocket server;
        final Map<Long, String> seen = new ConcurrentHashMap<>();
        final List<String> contradictions = new CopyOnWriteArrayList<>();
        final AtomicLong connections = new AtomicLong();
        private final Thread acceptor;

        Audit() throws IOException {
            server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            acceptor = new Thread(this::acceptLoop, "audit-acceptor");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        String address() {
            return "127.0.0.1:" + server.getLocalPort();
        }

        private void acceptLoop() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    connections.incrementAndGet();
                    Thread t = new Thread(() -> serve(s), "audit-conn");
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void serve(Socket s) {
            try (s) {
                BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                OutputStream out = s.getOutputStream();
                for (String line; (line = in.readLine()) != null; ) {
                    String[] w = line.split(" ");
                    long n = Long.parseLong(w[0]);
                    String before = seen.putIfAbsent(n, w[1]);
                    if (before != null && !before.equals(w[1])) {
                        contradictions.add("INCR " + n + " was reported as " + before + " and later as " + w[1]);
                    }
                    out.write(("ACK " + n + "\n").getBytes(StandardCharsets.UTF_8));
                    out.flush();
                }
            } catch (IOException e) {
                // the counter died or was cut off: that connection is over
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    /** What the client was told. */
    static final class Model {
        final Map<Long, String> told = new ConcurrentHashMap<>();
        final AtomicLong maxTold = new AtomicLong();
        final AtomicLong inflight = new AtomicLong();
        final AtomicLong replies = new AtomicLong();
        final AtomicLong connections = new AtomicLong();
    }

    /** A blocking line client with a read timeout. */
    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    /** One INCR; checks the answer against everything told before. */
    static void incr(KvRecoveryIT.Client c, Model m) throws IOException {
        m.inflight.incrementAndGet();
        String r = c.call("INCR");
        check(r.startsWith("INT "), "INCR reply " + r);
        String[] w = r.split(" ");
        long n = Long.parseLong(w[1]);
        check(w[2].length() == 16, "INCR reply " + r);
        check(m.told.putIfAbsent(n, w[2]) == null, "INCR gave " + n + " twice: the server forgot an answer it gave");
        check(n > m.maxTold.get(), "INCR gave " + n + " after " + m.maxTold.get());
        m.maxTold.set(n);
        m.inflight.decrementAndGet();
        m.replies.incrementAndGet();
    }

    /**
     * The client until the server dies: connections of a few requests each (so accept runs often),
     * now and then idle longer than the server's read timeout.
     */
    static void load(int port, Model m, long seed, AtomicBoolean killed, List<Throwable> failures) {
        Random rnd = new Random(seed);
        while (true) {
            try (KvRecoveryIT.Client c = new KvRecoveryIT.Client(port)) {
                m.connections.incrementAndGet();
                int requests = 1 + rnd.nextInt(12);
                for (int i = 0; i < requests; i++) {
                    int op = rnd.nextInt(20);
                    if (op == 0) {
                        Thread.sleep(150); // longer than LineCounter's 100 ms read timeout
                    } else if (op == 1) {
                        String r = c.call("GET");
                        check(r.equals("VALUE " + m.maxTold.get()), "GET gave " + r + " after INT " + m.maxTold.get());
                        m.replies.incrementAndGet();
                    } else {
                        incr(c, m);
                    }
                }
                check(c.call("QUIT").equals("BYE"), "QUIT");
            } catch (IOException e) {
                if (!killed.get()) {
                    failures.add(new AssertionError("the client lost the server before it was killed", e));
                }
                return;
            } catch (AssertionError | InterruptedException e) {
                failures.add(e);
                return;
            }
        }
    }

    /** After a recovery: the counter and every answer against what the client and the audit were told. */
    static List<String> verify(int port, Model m, Audit audit) throws IOException {
        List<String> problems = new ArrayList<>(audit.contradictions);
        try (KvRecoveryIT.Client c = new KvRecoveryIT.Client(port)) {
            String r = c.call("GET");
            long v = Long.parseLong(r.substring("VALUE ".length()));
            if (v < m.maxTold.get()) {
                problems.add("counter is " + v + " after recovery, but the client was told " + m.maxTold.get());
            }
            if (v > m.maxTold.get() + m.inflight.get()) {
                problems.add("counter is " + v + ", more than " + m.maxTold.get() + " told + " + m.inflight.get()
                        + " uncertain INCRs");
            }
            for (Map.Entry<Long, String> e : m.told.entrySet()) {
                String reported = audit.seen.get(e.getKey());
                if (!e.getValue().equals(reported)) {
                    problems.add("the client was told INCR " + e.getKey() + " = " + e.getValue() + " but the audit "
                            + "has " + reported);
                }
            }
            for (long n = 1; n <= v; n++) {
                if (!audit.seen.containsKey(n)) {
                    problems.add("INCR " + n + " (counter " + v + ") never reached the audit: a gap");
                }
            }
            for (long n : audit.seen.keySet()) {
                if (n > v) {
                    problems.add("the audit was told INCR " + n + " but the recovered counter is " + v);
                }
            }
            m.maxTold.set(v); // an uncertain INCR may have taken effect
            m.inflight.set(0);
            incr(c, m);
            if (m.maxTold.get() != v + 1) {
                problems.add("the first INCR after recovery gave " + m.maxTold.get() + ", expected " + (v + 1));
            }
            if (m.told.containsKey(v + 1) && !m.told.get(v + 1).equals(audit.seen.get(v + 1))) {
                problems.add("INCR " + (v + 1) + " told " + m.told.get(v + 1) + " but reported " + audit.seen.get(v + 1));
            }
            check(c.call("QUIT").equals("BYE"), "QUIT");
        }
        return problems;
    }

    static List<String> serverCommand(Audit audit, String mode) {
        List<String> cmd = new ArrayList<>(List.of("-cp", AgentStartupIT.demoJar().toString(),
                "dev.revenant.demo.LineCounter", "0", audit.address()));
        if (mode.equals("channels")) {
            cmd.add("channels");
        }
        return cmd;
    }

    static KvRecoveryIT.Server record(Path log, Map<String, String> env, Audit audit, String mode) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(),
                "-javaagent:" + Cli.agentJar() + "=log=" + log + ",commit=pessimistic"));
        cmd.addAll(serverCommand(audit, mode));
        JavaProcess p = JavaProcess.start(env, cmd);
        String l = p.await(s -> s.startsWith(LISTENING), 60);
        return new KvRecoveryIT.Server(p, p.process.pid(), Integer.parseInt(l.substring(LISTENING.length()).trim()));
    }

    static KvRecoveryIT.Server recover(Path log, Map<String, String> env, Audit audit, String mode, int port)
            throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "recover",
                "--json", "--log", log.toString(), "--", JavaProcess.javaBin()));
        cmd.addAll(serverCommand(audit, mode));
        JavaProcess p = JavaProcess.start(env, cmd);
        try {
            String summary = p.await(s -> s.startsWith("{\"epoch\":"), 120);
            assertThat(summary).as("recovery listens on the recorded port")
                    .contains("\"listening\":\"/127.0.0.1:" + port + "\"");
            long pid = Long.parseLong(summary.replaceAll(".*\"pid\":(\\d+).*", "$1"));
            return new KvRecoveryIT.Server(p, pid, port);
        } catch (Throwable e) {
            p.close();
            throw e;
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"sockets", "channels"})
    void everyAnswerSurvivesKillPowerCutAndRecovery(String mode) throws Exception {
        long seed = Long.getLong("revenant.it.seed", System.nanoTime());
        Random rnd = new Random(seed);
        Path log = Files.createDirectories(tmp.resolve("lc"));
        Path shadow = tmp.resolve("shadow");
        Model m = new Model();
        try (Audit audit = new Audit()) {
            boolean forced = rnd.nextInt(3) == 0;
            KvRecoveryIT.Server s = record(log, KvRecoveryIT.env(log, shadow, forced ? 20 + rnd.nextInt(100) : -1), audit,
                    mode);
            int port = s.port();
            try {
                for (int point = 0; point < KILL_POINTS; point++) {
                    KvRecoveryIT.Server victim = s;
                    boolean inCommit = forced;
                    long delay = 20 + rnd.nextInt(400);
                    long before = m.replies.get();
                    AtomicBoolean killed = new AtomicBoolean();
                    List<Throwable> failures = new CopyOnWriteArrayList<>();
                    long clientSeed = rnd.nextLong();
                    Thread client = new Thread(() -> load(port, m, clientSeed, killed, failures), "lc-client");
                    client.start();
                    if (inCommit) {
                        victim.proc().awaitErr(x -> x.startsWith("revenant-test: stalled before force"), 60);
                    } else {
                        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                        while (m.replies.get() < before + 10 && System.nanoTime() < deadline && client.isAlive()) {
                            Thread.sleep(1);
                        }
                        Thread.sleep(delay);
                    }
                    killed.set(true);
                    KvRecoveryIT.kill(victim);
                    client.join(TimeUnit.SECONDS.toMillis(60));
                    assertThat(failures).as("client (seed " + seed + ")").isEmpty();
                    PowerCut.Report cut = PowerCut.apply(log, shadow);
                    forced = rnd.nextInt(3) == 0;
                    // The stall (for good) is armed beyond the few forces verify() waits for.
                    s = recover(log, KvRecoveryIT.env(log, shadow, forced ? 20 + rnd.nextInt(100) : -1), audit, mode,
                            port);
                    List<String> problems = verify(port, m, audit);
                    System.out.printf("linecounter (%s) kill point %d (%s): %d replies on %d connections so far, "
                            + "counter %d, %d audit connections, %s; %s%n", mode, point,
                            inCommit ? "inside a group commit" : "+" + delay + " ms", m.replies.get(),
                            m.connections.get(), m.maxTold.get(), audit.connections.get(), cut,
                            problems.isEmpty() ? "consistent" : problems);
                    assertThat(problems).as(mode + " kill point " + point + " (seed " + seed + ")").isEmpty();
                }
            } finally {
                KvRecoveryIT.kill(s); // also when a check failed: no recovered server outlives the test
            }
        }
    }

    /**
     * A scripted session, ended by the app itself, then {@code revenant replay}: the replay prints
     * exactly what the recording printed — the clients' addresses as recorded, the outgoing
     * connection, the read and accept timeouts counted, the random ids — and a reply larger than
     * an outbox is written in pieces and arrives whole.
     */
    @ParameterizedTest
    @ValueSource(strings = {"sockets", "channels"})
    void replayPrintsWhatTheRecordingPrinted(String mode) throws Exception {
        Path log = Files.createDirectories(tmp.resolve("script"));
        List<String> recorded;
        try (Audit audit = new Audit()) {
            KvRecoveryIT.Server s = record(log, Map.of(), audit, mode);
            try (JavaProcess recording = s.proc()) {
                for (int conn = 0; conn < 3; conn++) {
                    Thread.sleep(400); // an accept timeout or so
                    try (KvRecoveryIT.Client c = new KvRecoveryIT.Client(s.port())) {
                        for (int i = 0; i < 4; i++) {
                            check(c.call("INCR").startsWith("INT "), "INCR");
                        }
                        Thread.sleep(250); // two idle timeouts or so
                        c.out.write("INCR\nINCR\nGET\n".getBytes(StandardCharsets.UTF_8)); // pipelined
                        c.out.flush();
                        check(c.in.readLine().startsWith("INT "), "INCR");
                        check(c.in.readLine().startsWith("INT "), "INCR");
                        check(c.in.readLine().equals("VALUE " + (6 * conn + 6)), "GET");
                        String blob = c.call("BLOB 5000000");
                        check(blob.length() == 5_000_000 && blob.chars().allMatch(ch -> ch == 'x'), "BLOB");
                        check(c.call(conn == 2 ? "SHUTDOWN" : "QUIT").equals("BYE"), "BYE");
                    }
                }
                assertThat(recording.waitForExit(60)).isZero();
                Thread.sleep(50); // the stdout pump
                recorded = List.copyOf(recording.lines);
                String last = recorded.get(recorded.size() - 1);
                assertThat(last).startsWith("shutdown after 18 increments, ");
                assertThat(Integer.parseInt(last.replaceAll(".* (\\d+) idle timeouts.*", "$1")))
                        .as("the idle pauses made reads time out").isPositive();
                assertThat(Integer.parseInt(last.replaceAll(".* (\\d+) accept timeouts", "$1")))
                        .as("the pauses between clients made accepts time out").isPositive();
                assertThat(audit.seen).hasSize(18);
            }

            List<String> cmd = new ArrayList<>(List.of("replay", "--log", log.toString(), "--", JavaProcess.javaBin()));
            cmd.addAll(serverCommand(audit, mode));
            Cli.Result r = Cli.run(cmd.toArray(String[]::new));
            assertThat(r.exit()).as(r.err()).isZero();
            assertThat(r.out().lines().toList()).isEqualTo(recorded);
            assertThat(audit.connections.get()).as("replay connects to nobody").isEqualTo(1);
        }
        assertThat(recorded).anyMatch(l -> l.startsWith("client /127.0.0.1:"));
    }

    @Test
    void usePlainSocketImplIsRefusedOnJdk17() throws Exception {
        assumeTrue(Runtime.version().feature() < 18, "PlainSocketImpl exists up to JDK 17 only");
        List<String> cmd = List.of(JavaProcess.javaBin(), "-Djdk.net.usePlainSocketImpl",
                "-javaagent:" + Cli.agentJar() + "=log=" + tmp.resolve("plain"),
                "-cp", AgentStartupIT.demoJar().toString(), "dev.revenant.demo.Greeter", "Ada");
        try (JavaProcess p = JavaProcess.start(Map.of(), cmd)) {
            String line = p.awaitErr(l -> l.startsWith("revenant: "), 120);
            assertThat(line).startsWith("revenant: agent start-up failed: -Djdk.net.usePlainSocketImpl is set");
            assertThat(p.waitForExit(120)).isEqualTo(2);
            assertThat(p.lines).noneMatch(l -> l.startsWith("hello"));
        }
        // "false" is the JDK's own default: accepted.
        List<String> ok = new ArrayList<>(cmd);
        ok.set(1, "-Djdk.net.usePlainSocketImpl=false");
        ok.set(2, "-javaagent:" + Cli.agentJar() + "=log=" + tmp.resolve("plain-false"));
        try (JavaProcess p = JavaProcess.start(Map.of(), ok)) {
            assertThat(p.waitForExit(120)).as(String.join("\n", p.errLines)).isZero();
            assertThat(p.lines).anyMatch(l -> l.startsWith("hello, Ada"));
        }
    }
}
