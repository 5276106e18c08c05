package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Apache ZooKeeper (standalone, from Maven Central), a server none of us wrote, started from its
 * own main class ({@code ZooKeeperServerMain}) under the agent: NIO selector threads, a worker pool,
 * a request-processor pipeline of queues and threads, session expiry on timers. Its own client
 * library drives it: 4 sessions at once create znodes, each create the server acknowledged is
 * noted; it is killed with SIGKILL at a seeded random point, recovered with the real CLI, loaded
 * again, killed again, recovered again from the same log. After each recovery every acknowledged
 * znode is there with its data, nothing else is but the creates in flight at the kill, and the
 * server takes new sessions and creates.
 *
 * <p>A known gap is allowed for, and only that, as in {@link JdbcServerRecoveryIT}: ZooKeeper's
 * worker threads block inside {@code synchronized} blocks other workers enter, and who gets such a
 * monitor is not yet a logged scheduling decision, so a recovery may instead stop with a divergence
 * report (exit 3, never having said live); the cycles end there and the test says so (none did in
 * the last runs; 2 second recoveries in 10 under 16 sessions did before replayed socket failures got
 * the recorded stack, a cause since fixed). A recovery that goes live into a wrong state, hangs, or
 * ends any other way fails the test.
 *
 * <p>One thing is done by hand that a user of a later version will not do: ZooKeeper reads its
 * data directory (snapshots, transaction logs) when it starts, and file input is not yet in the
 * log (a later issue), so each recovery starts with the data directory as the recording started:
 * empty. What the recovered server knows comes from the replayed socket input alone.
 */
@Tag("scheduler")
class ZooKeeperRecoveryIT {
    static final int CLIENTS = 4;
    static final Map<String, String> ENV = Map.of("REVENANT_NO_PROGRESS", "1");

    @TempDir
    Path tmp;

    /** The jars of the server: ZooKeeper and what it needs at run time (from the test class path). */
    static String serverClassPath() {
        Set<String> jars = new LinkedHashSet<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String p = e.replace('\\', '/');
            if (p.contains("/org/apache/zookeeper/") || p.contains("/org/slf4j/") || p.contains("/ch/qos/logback/")
                    || p.contains("/io/netty/") || p.contains("/org/apache/yetus/") || p.contains("/commons-io/")
                    || p.contains("/io/dropwizard/metrics/") || p.contains("/org/xerial/snappy/")) {
                jars.add(e);
            }
        }
        assertThat(jars).as("ZooKeeper on the test class path").anyMatch(j -> j.contains("zookeeper-3."));
        return String.join(File.pathSeparator, jars);
    }

    static List<String> serverCommand(Path config, Path logback) {
        return List.of(JavaProcess.javaBin(), "-Dzookeeper.jmx.log4j.disable=true",
                "-Dlogback.configurationFile=" + logback, "-cp", serverClassPath(),
                "org.apache.zookeeper.server.ZooKeeperServerMain", config.toString());
    }

    static ZooKeeper session(int port) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper("127.0.0.1:" + port, 30_000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                up.countDown();
            }
        });
        if (!up.await(30, TimeUnit.SECONDS)) {
            zk.close();
            throw new AssertionError("no ZooKeeper session on port " + port + " within 30 s");
        }
        return zk;
    }

    /** What the clients were told: znode path → data; and the create each client had in flight. */
    static final class Told {
        final Map<String, String> created = new ConcurrentHashMap<>();
        final Map<Integer, String> inflight = new ConcurrentHashMap<>();
    }

    /** {@link #CLIENTS} sessions creating znodes {@code /<tag><client>-<n>} until the server dies. */
    static void loadUntilKilled(int port, Told told, String tag, Random rnd, Runnable killer) throws Exception {
        ClientThreads.run(CLIENTS, "zk-" + tag, rnd, (client, seed, stop, failures) -> {
            try (ZooKeeper zk = session(port)) {
                for (int n = 0; !stop.get(); n++) {
                    String path = "/" + tag + client + "-" + n;
                    String data = "d-" + Long.toHexString(seed ^ n) + "-" + n;
                    told.inflight.put(client, path);
                    zk.create(path, data.getBytes(StandardCharsets.UTF_8), ZooDefs.Ids.OPEN_ACL_UNSAFE,
                            CreateMode.PERSISTENT);
                    told.created.put(path, data);
                    told.inflight.remove(client);
                }
            } catch (KeeperException.ConnectionLossException | KeeperException.SessionExpiredException e) {
                // the server died under us: the create in flight stays uncertain
            } catch (Throwable t) {
                if (!stop.get()) {
                    failures.add(t);
                }
            }
        }, killer);
    }

    /** Every acknowledged znode is there with its data; any other is a create that was in flight. */
    static void check(int port, Told told, String when) throws Exception {
        try (ZooKeeper zk = session(port)) {
            List<String> wrong = new ArrayList<>();
            for (Map.Entry<String, String> e : told.created.entrySet()) {
                try {
                    String got = new String(zk.getData(e.getKey(), false, null), StandardCharsets.UTF_8);
                    if (!got.equals(e.getValue())) {
                        wrong.add(e.getKey() + " holds " + got + ", not " + e.getValue());
                    }
                } catch (KeeperException.NoNodeException missing) {
                    wrong.add(e.getKey() + " is missing");
                }
            }
            List<String> extra = new ArrayList<>();
            for (String child : zk.getChildren("/", false)) {
                String path = "/" + child;
                if (!child.equals("zookeeper") && !told.created.containsKey(path)) {
                    if (told.inflight.containsValue(path)) {
                        told.created.put(path, new String(zk.getData(path, false, null), StandardCharsets.UTF_8));
                    } else {
                        extra.add(path);
                    }
                }
            }
            System.out.printf("zookeeper %s: %d acknowledged znodes, %d wrong or missing, %d unexplained%n", when,
                    told.created.size(), wrong.size(), extra.size());
            assertThat(wrong).as("%s: acknowledged znodes", when).isEmpty();
            assertThat(extra).as("%s: znodes nobody created or had in flight", when).isEmpty();
            told.inflight.clear();
        }
    }

    /** Until the recorded server takes connections on {@code port}; its stderr if it ends first. */
    static void awaitListening(JavaProcess p, int port) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            try (java.net.Socket probe = new java.net.Socket()) {
                probe.connect(new java.net.InetSocketAddress("127.0.0.1", port), 1_000);
                return;
            } catch (java.io.IOException notYet) {
                if (!p.process.isAlive() || System.nanoTime() > deadline) {
                    throw new AssertionError("ZooKeeper did not listen on " + port + ": " + String.join("\n", p.errLines)
                            + "\n" + String.join("\n", p.lines));
                }
                Thread.sleep(20);
            }
        }
    }

    static void emptied(Path dir) throws Exception {
        if (Files.exists(dir)) {
            try (Stream<Path> walk = Files.walk(dir)) {
                for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                    Files.delete(p);
                }
            }
        }
        Files.createDirectories(dir);
    }

    @Test
    void everyAcknowledgedZnodeSurvivesTwoKillsAndRecoveries() throws Exception {
        long seed = Long.getLong("revenant.it.seed", System.nanoTime());
        Random rnd = new Random(seed);
        System.out.println("zookeeper: seed " + seed + " (-Drevenant.it.seed=" + seed + " repeats it)");
        Path log = Files.createDirectories(tmp.resolve("log"));
        Path data = tmp.resolve("data");
        emptied(data);
        int port;
        try (java.net.ServerSocket probe = new java.net.ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        Path config = tmp.resolve("zoo.cfg");
        Files.writeString(config, "tickTime=2000\ndataDir=" + data + "\nclientPort=" + port
                + "\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxClientCnxns=0\n");
        Path logback = tmp.resolve("logback.xml");
        Files.writeString(logback, "<configuration><appender name=\"E\" class=\"ch.qos.logback.core.ConsoleAppender\">"
                + "<target>System.err</target><encoder><pattern>%level %logger{20} %msg%n</pattern></encoder></appender>"
                + "<root level=\"WARN\"><appender-ref ref=\"E\"/></root></configuration>");
        List<String> server = serverCommand(config, logback);

        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log));
        cmd.addAll(server.subList(1, server.size()));
        JavaProcess first = JavaProcess.start(ENV, cmd);
        // the server now running (recorded, then each recovered one): killed whatever happens
        KvRecoveryIT.Server[] live = {new KvRecoveryIT.Server(first, first.process.pid(), port)};
        try {
            cycles(first, port, data, log, server, rnd, seed, live);
        } finally {
            KvRecoveryIT.kill(live[0]);
        }
    }

    private void cycles(JavaProcess first, int port, Path data, Path log, List<String> server, Random rnd, long seed,
                        KvRecoveryIT.Server[] live) throws Exception {
        awaitListening(first, port);
        try (ZooKeeper up = session(port)) {
            assertThat(up.getChildren("/", false)).contains("zookeeper");
        } catch (AssertionError e) {
            throw new AssertionError(e.getMessage() + "; the server's output:\n" + String.join("\n", first.errLines)
                    + "\n" + String.join("\n", first.lines) + "\nclass path " + serverClassPath(), e);
        }
        Told told = new Told();
        AtomicBoolean killed = new AtomicBoolean();
        int refused = 0;
        for (int cycle = 0; cycle < 2; cycle++) {
            KvRecoveryIT.Server current = live[0];
            int before = told.created.size();
            long killAfter = 1500 + rnd.nextInt(2000);
            loadUntilKilled(port, told, cycle == 0 ? "t" : "u", rnd, () -> {
                try {
                    Thread.sleep(killAfter);
                    KvRecoveryIT.kill(current);
                    killed.set(true);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertThat(killed.getAndSet(false)).isTrue();
            System.out.printf("zookeeper cycle %d: killed after %d ms, %d creates acknowledged in it%n", cycle, killAfter,
                    told.created.size() - before);
            assertThat(told.created.size()).as("the clients got answers before the kill").isGreaterThan(before);
            emptied(data); // as the recording found it (file input is not in the log yet)
            KvRecoveryIT.Server next = ThreadedKvRecoveryIT.recover(log, port, server, cycle + 1, true);
            if (next == null) {
                refused++;
                System.out.printf("zookeeper cycle %d: recover stopped with a divergence report; no more cycles%n", cycle);
                break;
            }
            live[0] = next;
            check(port, told, "after recovery " + (cycle + 1));
        }
        System.out.printf("zookeeper: %d of 2 recoveries stopped with a divergence report (seed %d)%n", refused, seed);
        if (refused > 0) {
            return; // nothing runs any more: the refusing recovery has exited
        }
        try (ZooKeeper zk = session(port)) {
            zk.create("/after", "x".getBytes(StandardCharsets.UTF_8), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            assertThat(new String(zk.getData("/after", false, null), StandardCharsets.UTF_8)).isEqualTo("x");
        }
    }
}
