package dev.revenant.it;

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
 * with SIGKILL at a seeded random point, recovered with the real CLI, twice in one log. After each
 * recovery every committed transfer is in the ledger, nothing else is but the transactions in
 * flight at the kill, every balance is the opening balance plus its ledger, the total is the
 * opening total, and the database serves new transactions, checked the same way.
 *
 * <p>A known gap is allowed for, and only that: H2 waits for row locks with {@code wait}/{@code
 * notifyAll} inside {@code synchronized} methods, and who gets such a monitor is not yet a logged
 * scheduling decision (the README's "Not yet"), so a recovery may instead stop with a divergence
 * report (exit 3, never having said live); the cycles end there, and the test says so (before the
 * last scheduler fixes about 1 recovery in 4 did; none of the last 20). A recovery that goes live into
 * a wrong state, hangs, or ends any other way fails the test.
 */
@Tag("scheduler")
class H2RecoveryIT {
    static final int CLIENTS = 4;
    static final int ACCOUNTS = 16;
    static final long OPENING = 1000;
    static final int CYCLES = Integer.getInteger("revenant.it.h2Cycles", 2);

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
        Ledger l = new Ledger();
        KillRecoverCycles.App app = new KillRecoverCycles.App("h2", log, port, server, l.done,
                new KvRecoveryIT.Server(first, first.process.pid(), port));
        try (Connection c = DriverManager.getConnection(url(port), "sa", ""); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE acct(id INT PRIMARY KEY, bal BIGINT NOT NULL)");
            st.execute("CREATE TABLE ledger(client VARCHAR(32), k BIGINT, src INT, dst INT, amt BIGINT, at TIMESTAMP,"
                    + " PRIMARY KEY(client, k))");
            for (int i = 0; i < ACCOUNTS; i++) {
                st.execute("INSERT INTO acct VALUES (" + i + ", " + OPENING + ")");
            }
        } catch (SQLException e) {
            KvRecoveryIT.kill(app.current);
            throw e;
        }
        app.refusalAllowed = true;
        KillRecoverCycles.run(app, CYCLES, seed, rnd, 50, 600, (tag, until) -> load(port, l, rnd, tag, until),
                () -> check(port, l));
        System.out.printf("h2: %d of %d recoveries stopped with a divergence report (seed %d)%n", app.refused,
                CYCLES, seed);
    }
}
