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
 * Database servers none of us wrote, from Maven Central, each started from its own main class under
 * the agent with an in-memory database: H2's TCP server ({@code org.h2.tools.Server}: a thread per
 * connection, MVStore row locks, its own spin locks and monitors) and HSQLDB's ({@code
 * org.hsqldb.server.Server}: a thread per connection, lock-based transactions, monitors). The client
 * is each one's own JDBC driver: 4 connections at once move money between 16 accounts in
 * transactions (take from one account if it has enough, give to another, note the transfer in a
 * ledger table, commit), killed
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
class JdbcServerRecoveryIT {
    static final int CLIENTS = 4;
    static final int ACCOUNTS = 16;
    static final long OPENING = 1000;
    static final int CYCLES = Integer.getInteger("revenant.it.jdbcCycles", 2);

    @TempDir
    Path tmp;

    /** What the clients were told was committed, and what each had in flight. */
    static final class Ledger {
        final Queue<String> committed = new ConcurrentLinkedQueue<>();
        final Map<Integer, String> inflight = new ConcurrentHashMap<>();
        final AtomicLong done = new AtomicLong();
    }

    /** One server: how to start it on a port, what the line it prints when ready holds, its JDBC URL. */
    record Db(String name, String ready, String urlFormat, Class<?> driver, List<String> mainAndArgs) {
        String url(int port) {
            return String.format(urlFormat, port);
        }

        List<String> command(int port) throws Exception {
            Path jar = Path.of(driver.getProtectionDomain().getCodeSource().getLocation().toURI());
            List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-Dh2.bindAddress=127.0.0.1", "-cp",
                    jar.toString()));
            mainAndArgs.forEach(a -> cmd.add(a.replace("PORT", Integer.toString(port))));
            return cmd;
        }
    }

    static final Db H2 = new Db("h2", "TCP server running at ", "jdbc:h2:tcp://127.0.0.1:%d/mem:bank;DB_CLOSE_DELAY=-1",
            org.h2.Driver.class, List.of("org.h2.tools.Server", "-tcp", "-tcpPort", "PORT", "-ifNotExists"));
    static final Db HSQLDB = new Db("hsqldb", "Startup sequence completed", "jdbc:hsqldb:hsql://127.0.0.1:%d/bank",
            org.hsqldb.jdbc.JDBCDriver.class, List.of("org.hsqldb.server.Server", "--database.0", "mem:bank",
                    "--dbname.0", "bank", "--port", "PORT", "--address", "127.0.0.1"));

    /** A conflict the database resolves by rolling back (deadlock, lock timeout): the client retries. */
    static boolean retryable(SQLException e) {
        return e.getErrorCode() == 40001 || e.getErrorCode() == 50200 || "40001".equals(e.getSQLState());
    }

    /** The connection broke (the server died): expected at the kill. */
    static boolean broken(SQLException e) {
        return e.getErrorCode() == 90067 || e.getSQLState() != null && e.getSQLState().startsWith("08");
    }

    static void client(Db db, int id, int port, Ledger l, String tag, AtomicBoolean stop, List<Throwable> failures) {
        Random r = new Random(id * 7919L + tag.hashCode());
        try (Connection c = DriverManager.getConnection(db.url(port), "sa", "")) {
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
                    if (!retryable(e)) {
                        throw e; // not a deadlock or lock timeout, which a database may answer under contention
                    }
                    c.rollback();
                }
                l.inflight.remove(id);
                l.done.incrementAndGet();
            }
        } catch (SQLException e) {
            // the server died under us: the transaction in flight stays uncertain
            if (!broken(e) && !stop.get()) {
                failures.add(e);
            }
        } catch (Throwable e) {
            failures.add(e);
        }
    }

    static void load(Db db, int port, Ledger l, Random rnd, String tag, Runnable until) throws Exception {
        ClientThreads.run(CLIENTS, db.name() + "-client", rnd,
                (id, seed, stop, failures) -> client(db, id, port, l, tag, stop, failures), until);
    }

    /** The database against the ledger; the in-flight transfers that committed join it. Empty: all is well. */
    static List<String> check(Db db, int port, Ledger l) throws SQLException {
        List<String> problems = new ArrayList<>();
        Set<String> ledger = ConcurrentHashMap.newKeySet();
        long[] expected = new long[ACCOUNTS];
        Arrays.fill(expected, OPENING);
        try (Connection c = DriverManager.getConnection(db.url(port), "sa", ""); Statement s = c.createStatement()) {
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
        System.out.printf("%s: %d transfers in the ledger, %d were acknowledged%n", db.name(), ledger.size(), committed.size());
        return problems;
    }

    @Test
    void everyCommittedTransferSurvivesKillAndRecoveryOfTheH2Server() throws Exception {
        run(H2);
    }

    @Test
    void everyCommittedTransferSurvivesKillAndRecoveryOfTheHsqldbServer() throws Exception {
        run(HSQLDB);
    }

    void run(Db db) throws Exception {
        long seed = KillRecoverCycles.seed(db.name());
        Random rnd = new Random(seed);
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        Path log = Files.createDirectories(tmp.resolve(db.name()));
        List<String> server = db.command(port);
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log));
        cmd.addAll(server.subList(1, server.size()));
        JavaProcess first = JavaProcess.start(Map.of("REVENANT_NO_PROGRESS", "1"), cmd);
        first.await(x -> x.contains(db.ready()), 60);
        Ledger l = new Ledger();
        KillRecoverCycles.App app = new KillRecoverCycles.App(db.name(), log, port, server, l.done,
                new KvRecoveryIT.Server(first, first.process.pid(), port));
        try (Connection c = DriverManager.getConnection(db.url(port), "sa", ""); Statement st = c.createStatement()) {
            st.execute("CREATE TABLE acct(id INT PRIMARY KEY, bal BIGINT NOT NULL)");
            st.execute("CREATE TABLE ledger(client VARCHAR(32), k BIGINT, src INT, dst INT, amt BIGINT, ts TIMESTAMP,"
                    + " PRIMARY KEY(client, k))");
            for (int i = 0; i < ACCOUNTS; i++) {
                st.execute("INSERT INTO acct VALUES (" + i + ", " + OPENING + ")");
            }
        } catch (SQLException e) {
            KvRecoveryIT.kill(app.current);
            throw e;
        }
        app.refusalAllowed = true;
        KillRecoverCycles.run(app, CYCLES, seed, rnd, 50, 600, (tag, until) -> load(db, port, l, rnd, tag, until),
                () -> check(db, port, l));
        System.out.printf("%s: %d of %d recoveries stopped with a divergence report (seed %d)%n", db.name(), app.refused,
                CYCLES, seed);
    }
}
