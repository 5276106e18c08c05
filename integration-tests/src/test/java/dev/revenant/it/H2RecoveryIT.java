package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A database server none of us wrote, from Maven Central: H2's TCP server, started from its own main
 * class ({@code org.h2.tools.Server}) under the agent, an in-memory database, a thread per
 * connection, MVStore row locks, its own spin locks and monitors. The client is H2's own JDBC
 * driver: 4 connections at once move money between 16 accounts in transactions (take from one
 * account if it has enough, give to another, note the transfer in a ledger table, commit), killed
 * with SIGKILL at a seeded random point, recovered with the real CLI. After the recovery every
 * committed transfer is in the ledger, nothing else is but the transactions in flight at the kill,
 * every balance is the opening balance plus its ledger, the total is the opening total, and the
 * database serves new transactions, checked the same way.
 *
 * <p>One cycle by default: a second kill and recovery in the same log ({@code
 * -Drevenant.it.h2Cycles=2}) stops with a divergence report in about 2 runs of 3 (H2 waits for row
 * locks with {@code wait}/{@code notifyAll} inside {@code synchronized} methods, and who gets such a
 * monitor is not yet a logged scheduling decision; see the README's "Not yet"). It never recovers
 * into a wrong state: the replay stops, exit 3, the log untouched.
 */
@Tag("scheduler")
class H2RecoveryIT {
    static final int CLIENTS = 4;
    static final int ACCOUNTS = 16;
    static final long OPENING = 1000;
    static final int CYCLES = Integer.getInteger("revenant.it.h2Cycles", 1);

    @TempDir
    Path tmp;

    /** What the clients were told was committed, and what each had in flight. */
    static final class Ledger {
        final Queue<String> committed = new ConcurrentLinkedQueue<>();
        final Map<Integer, String> inflight = new ConcurrentHashMap<>();
        final AtomicLong done = new AtomicLong();
    }

    static String url(int port) {
        return "jdbc:h2:tcp://127.0.0.1:" + port + "/mem:bank;DB_CLOSE_DELAY=-1";
    }

    static List<String> serverCommand(int port) throws Exception {
        Path h2 = Path.of(org.h2.Driver.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        return List.of(JavaProcess.javaBin(), "-Dh2.bindAddress=127.0.0.1", "-cp", h2.toString(), "org.h2.tools.Server",
                "-tcp", "-tcpPort", Integer.toString(port), "-ifNotExists");
    }

    static void client(int id, int port, Ledger l, String tag, AtomicBoolean stop, List<Throwable> failures) {
        Random r = new Random(id * 7919L + tag.hashCode());
        try (Connection c = DriverManager.getConnection(url(port), "sa", "")) {
            c.setAutoCommit(false);
            PreparedStatement take = c.prepareStatement("UPDATE acct SET bal = bal - ? WHERE id = ? AND bal >= ?");
            PreparedStatement give = c.prepareStatement("UPDATE acct SET bal = bal + ? WHERE id = ?");
            PreparedStatement note = c.prepareStatement("INSERT INTO ledger VALUES (?, ?, ?, ?, ?, CURRENT_TIMESTAMP)");
            for (long k = 0; !stop.get(); k++) {
                int src = r.nextInt(ACCOUNTS);
                int dst = (src + 1 + r.nextInt(ACCOUNTS - 1)) % ACCOUNTS;
                long amt = 1 + r.nextInt(100);
                String client = tag + "." + id;
                String key = client + " " + k + " " + src + " " + dst + " " + amt;
                l.inflight.put(id, key);
                try {
                    take.setLong(1, amt);
                    take.setInt(2, src);
                    take.setLong(3, amt);
                    if (take.executeUpdate() == 1) {
                        give.setLong(1, amt);
                        give.setInt(2, dst);
                        give.executeUpdate();
                        note.setString(1, client);
                        note.setLong(2, k);
                        note.setInt(3, src);
                        note.setInt(4, dst);
                        note.setLong(5, amt);
                        note.executeUpdate();
                        c.commit();
                        l.committed.add(key);
                    } else {
                        c.rollback();
                    }
                } catch (SQLException e) {
                    if (e.getErrorCode() != 40001 && e.getErrorCode() != 50200) {
                        throw e; // not a deadlock or lock timeout, which H2 may answer under contention
                    }
                    c.rollback();
                }
                l.inflight.remove(id);
                l.done.incrementAndGet();
            }
        } catch (SQLException e) {
            // the server died under us (H2 says "connection is broken"): the transaction in flight stays uncertain
            if (e.getErrorCode() != 90067 && !stop.get()) {
                failures.add(e);
            }
        } catch (Throwable e) {
            failures.add(e);
        }
    }

    static void load(int port, Ledger l, Random rnd, String tag, Runnable until) throws Exception {
        ClientThreads.run(CLIENTS, "h2-client", rnd, (id, seed, stop, failures) -> client(id, port, l, tag, stop, failures),
                until);
    }

    /** The database against the ledger; the in-flight transfers that committed join it. Empty: all is well. */
    static List<String> check(int port, Ledger l) throws SQLException {
        List<String> problems = new ArrayList<>();
        Set<String> ledger = ConcurrentHashMap.newKeySet();
        long[] expected = new long[ACCOUNTS];
        Arrays.fill(expected, OPENING);
        try (Connection c = DriverManager.getConnection(url(port), "sa", ""); Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT client, k, src, dst, amt FROM ledger")) {
                while (rs.next()) {
                    ledger.add(rs.getString(1) + " " + rs.getLong(2) + " " + rs.getInt(3) + " " + rs.getInt(4) + " "
                            + rs.getLong(5));
                    expected[rs.getInt(3)] -= rs.getLong(5);
                    expected[rs.getInt(4)] += rs.getLong(5);
                }
            }
            long total = 0;
            try (ResultSet rs = s.executeQuery("SELECT id, bal FROM acct ORDER BY id")) {
                while (rs.next()) {
                    total += rs.getLong(2);
                    if (rs.getLong(2) != expected[rs.getInt(1)]) {
                        problems.add("account " + rs.getInt(1) + " holds " + rs.getLong(2) + ", its ledger says "
                                + expected[rs.getInt(1)]);
                    }
                }
            }
            if (total != ACCOUNTS * OPENING) {
                problems.add("the accounts hold " + total + ", the opening total is " + ACCOUNTS * OPENING);
            }
        }
        Set<String> committed = Set.copyOf(l.committed);
        for (String k : committed) {
            if (!ledger.contains(k)) {
                problems.add("committed transfer lost: " + k);
            }
        }
        for (String k : ledger) {
            if (!committed.contains(k) && !l.inflight.containsValue(k)) {
                problems.add("a transfer nobody had committed or in flight: " + k);
            } else if (!committed.contains(k)) {
                l.committed.add(k);
            }
        }
        l.inflight.clear();
        System.out.printf("h2: %d transfers in the ledger, %d were acknowledged%n", ledger.size(), committed.size());
        return problems;
    }

    @Test
    void everyCommittedTransferSurvivesKillAndRecoveryOfTheH2Server() throws Exception {
        long seed = Long.getLong("revenant.it.seed", System.nanoTime());
        System.out.println("h2: seed " + seed + " (-Drevenant.it.seed=" + seed + " repeats it)");
        Random rnd = new Random(seed);
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        Path log = Files.createDirectories(tmp.resolve("h2"));
        List<String> server = serverCommand(port);
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log));
        cmd.addAll(server.subList(1, server.size()));
        JavaProcess first = JavaProcess.start(Map.of("REVENANT_NO_PROGRESS", "1"), cmd);
        first.await(x -> x.startsWith("TCP server running at "), 60);
        KvRecoveryIT.Server s = new KvRecoveryIT.Server(first, first.process.pid(), port);
        try {
            try (Connection c = DriverManager.getConnection(url(port), "sa", ""); Statement st = c.createStatement()) {
                st.execute("CREATE TABLE acct(id INT PRIMARY KEY, bal BIGINT NOT NULL)");
                st.execute("CREATE TABLE ledger(client VARCHAR(32), k BIGINT, src INT, dst INT, amt BIGINT, at TIMESTAMP,"
                        + " PRIMARY KEY(client, k))");
                for (int i = 0; i < ACCOUNTS; i++) {
                    st.execute("INSERT INTO acct VALUES (" + i + ", " + OPENING + ")");
                }
            }
            Ledger l = new Ledger();
            for (int cycle = 0; cycle < CYCLES; cycle++) {
                KvRecoveryIT.Server victim = s;
                long killAfter = l.done.get() + 50 + rnd.nextInt(600);
                long extraMillis = rnd.nextInt(50);
                load(port, l, rnd, "r" + cycle, () -> {
                    try {
                        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                        while (l.done.get() < killAfter && System.nanoTime() < deadline) {
                            Thread.sleep(1);
                        }
                        Thread.sleep(extraMillis);
                        KvRecoveryIT.kill(victim);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                assertThat(l.done.get()).as("transactions before the kill (seed " + seed + ")").isGreaterThanOrEqualTo(killAfter);
                System.out.printf("h2 cycle %d: killed after %d transactions (%d committed transfers, %d in flight)%n", cycle,
                        l.done.get(), l.committed.size(), l.inflight.size());
                s = ThreadedKvRecoveryIT.recover(log, port, server, cycle + 1);
                assertThat(check(port, l)).as("cycle %d (seed %d): the database after recovery", cycle, seed).isEmpty();
                long before = l.done.get();
                load(port, l, rnd, "n" + cycle, () -> {
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (l.done.get() < before + 100 && System.nanoTime() < deadline) {
                        try {
                            Thread.sleep(1);
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                    }
                });
                assertThat(l.done.get()).as("the recovered server runs new transactions (seed " + seed + ")")
                        .isGreaterThanOrEqualTo(before + 100);
                assertThat(check(port, l)).as("after new transactions on the recovered server").isEmpty();
            }
        } finally {
            KvRecoveryIT.kill(s);
        }
    }
}
