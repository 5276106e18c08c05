package dev.revenant.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import dev.revenant.it.KvRecoveryIT.Client;
import dev.revenant.it.KvRecoveryIT.Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crashes during recovery itself: {@code revenant recover} killed with SIGKILL while it replays
 * (the service not live yet), and right after the service went live, then recovered again — each
 * time every SET a client was told about must come back, and the recovered service must take new
 * SETs. KvRecoveryIT covers kills of a recording or recovered service under load; this covers the
 * moments in between. Every load and every check runs over {@link #CLIENTS} connections at once, so
 * the logs hold selects with several ready connections and interleaved reads, as a real service's do.
 */
class RecoveryKillIT {
    static final Map<String, String> ENV = Map.of("REVENANT_NO_PROGRESS", "1");
    static final boolean LONG = "long".equals(System.getProperty("revenant.it.faultMatrix", "short"));

    @TempDir
    Path tmp;

    /** The CLI and the service it started, killed together (the service first). */
    static void killTree(JavaProcess p) throws InterruptedException {
        List<ProcessHandle> kids = p.process.descendants().toList();
        for (ProcessHandle h : kids) {
            h.destroyForcibly();
        }
        for (ProcessHandle h : kids) {
            h.onExit().join();
        }
        p.kill9();
    }

    static JavaProcess startRecover(Path log) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "recover",
                "--json", "--log", log.toString(), "--"));
        cmd.addAll(KvRecoveryIT.serverCommand());
        return JavaProcess.start(ENV, cmd);
    }

    /** Connections in parallel for every load and every check here (the "at least 4"). */
    static final int CLIENTS = 4;

    /**
     * Every acknowledged SET must read back as acknowledged: the keys are split over
     * {@link #CLIENTS} connections that GET at once.
     */
    static void checkAll(FaultCase fc, int port, Map<String, String[]> acked, String when) throws Exception {
        List<Map.Entry<String, String[]>> entries = new ArrayList<>(acked.entrySet());
        java.util.concurrent.atomic.AtomicInteger ok = new java.util.concurrent.atomic.AtomicInteger();
        List<String> wrong = java.util.Collections.synchronizedList(new ArrayList<>());
        parallel(CLIENTS, client -> {
            try (Client c = new Client(port)) {
                for (int i = client; i < entries.size(); i += CLIENTS) {
                    Map.Entry<String, String[]> e = entries.get(i);
                    String got = c.call("GET " + e.getKey());
                    if (got.equals("VALUE " + e.getValue()[0] + " " + e.getValue()[1])) {
                        ok.incrementAndGet();
                    } else {
                        wrong.add("GET " + e.getKey() + " = " + got);
                    }
                }
            }
        });
        for (String w : wrong.subList(0, Math.min(10, wrong.size()))) {
            fc.check(false, when + ": " + w);
        }
        fc.check(ok.get() == acked.size(), when + ": " + ok.get() + " of " + acked.size() + " acknowledged SETs there"
                + " (read over " + CLIENTS + " connections at once)");
    }

    /**
     * {@code n} SETs spread over {@link #CLIENTS} connections that send at once (keys
     * {@code prefix + client + "-" + i}); every acknowledged one goes into {@code acked}.
     */
    static void setSome(int port, Map<String, String[]> acked, String prefix, int n) throws Exception {
        parallel(CLIENTS, client -> {
            try (Client c = new Client(port)) {
                for (int i = client; i < n; i += CLIENTS) {
                    String key = prefix + client + "-" + i;
                    String r = c.call("SET " + key + " v" + key);
                    if (!r.startsWith("OK ")) {
                        throw new AssertionError("SET " + key + " got " + r);
                    }
                    acked.put(key, new String[] {"v" + key, r.substring(3)});
                }
            }
        });
    }

    interface ClientWork {
        void run(int client) throws Exception;
    }

    /** Runs {@code count} clients on threads of their own at once and rethrows the first failure. */
    static void parallel(int count, ClientWork work) throws Exception {
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int client = i;
            threads.add(new Thread(() -> {
                try {
                    work.run(client);
                } catch (Throwable t) {
                    failures.add(t);
                }
            }, "recovery-kill-client-" + i));
        }
        threads.forEach(Thread::start);
        for (Thread t : threads) {
            t.join(120_000);
            if (t.isAlive()) {
                throw new AssertionError(t.getName() + " did not finish within 120 s");
            }
        }
        if (!failures.isEmpty()) {
            throw new AssertionError("a client failed", failures.get(0));
        }
    }

    @Test
    void killDuringReplayThenRecoverAgain() throws Exception {
        long seed = Long.getLong("revenant.it.seed", System.nanoTime());
        Random rnd = new Random(seed);
        FaultCase.run("kill-mid-replay (seed " + seed + ")", fc -> {
            Path log = Files.createDirectories(tmp.resolve("mid"));
            fc.keepOnFailure(log);
            Map<String, String[]> acked = java.util.Collections.synchronizedMap(new LinkedHashMap<>());
            Server s = KvRecoveryIT.record(log, ENV, "pessimistic");
            setSome(s.port(), acked, "k", 1500); // enough that a replay takes a while
            KvRecoveryIT.kill(s);
            int rounds = LONG ? 12 : 3;
            int beforeLive = 0;
            // The kill comes at a random moment before a deadline, and the recovery is watched
            // meanwhile: once one went live, later deadlines fall inside the replay time seen
            // (the log only grows, so replays only get longer), and rounds go on (a few more at
            // most) until at least one kill hit a replay.
            long liveAfterMillis = -1;
            for (int round = 0; round < rounds || (beforeLive == 0 && round < rounds + 4); round++) {
                long t0 = System.nanoTime();
                JavaProcess p = startRecover(log);
                long deadline = liveAfterMillis > 0 ? 50 + rnd.nextInt((int) Math.max(1, liveAfterMillis * 8 / 10 - 50))
                        : 300 + rnd.nextInt(1200);
                boolean live = false;
                long waited;
                while ((waited = (System.nanoTime() - t0) / 1_000_000) < deadline && !(live = isLive(p))) {
                    Thread.sleep(5);
                }
                live = live || isLive(p);
                if (live) {
                    liveAfterMillis = liveAfterMillis < 0 ? waited : Math.min(liveAfterMillis, waited);
                }
                killTree(p);
                beforeLive += live ? 0 : 1;
                System.out.printf("kill-mid-replay round %d: killed after %d ms (deadline %d ms), %s%n", round,
                        (System.nanoTime() - t0) / 1_000_000, deadline, live ? "already live" : "while replaying");
            }
            fc.check(beforeLive > 0, beforeLive + " of the rounds' kills hit the replay (not live yet)");
            Server r = KvRecoveryIT.recover(log, ENV, s.port());
            try {
                checkAll(fc, r.port(), acked, "after " + rounds + " interrupted recoveries");
                setSome(r.port(), acked, "post", 8);
            } finally {
                KvRecoveryIT.kill(r);
            }
            Server again = KvRecoveryIT.recover(log, ENV, s.port());
            try {
                checkAll(fc, again.port(), acked, "after one more crash and recovery");
            } finally {
                KvRecoveryIT.kill(again);
            }
        });
    }

    static boolean isLive(JavaProcess p) {
        return p.errLines.stream().anyMatch(l -> l.startsWith("revenant: live"))
                || p.lines.stream().anyMatch(l -> l.startsWith("{\"epoch\":"));
    }

    @Test
    void killRightAfterGoingLiveThenRecoverAgain() throws Exception {
        FaultCase.run("kill-right-after-live", fc -> {
            Path log = Files.createDirectories(tmp.resolve("live"));
            fc.keepOnFailure(log);
            Map<String, String[]> acked = java.util.Collections.synchronizedMap(new LinkedHashMap<>());
            Server s = KvRecoveryIT.record(log, ENV, "pessimistic");
            setSome(s.port(), acked, "k", 200);
            KvRecoveryIT.kill(s);
            int rounds = LONG ? 10 : 3;
            for (int round = 0; round < rounds; round++) {
                Server r = KvRecoveryIT.recover(log, ENV, s.port()); // returns at the live line
                KvRecoveryIT.kill(r);
                if (round % 2 == 1) {
                    // and once with a SET acknowledged in between
                    Server r2 = KvRecoveryIT.recover(log, ENV, s.port());
                    setSome(r2.port(), acked, "r" + round + "-", 8);
                    KvRecoveryIT.kill(r2);
                }
            }
            Server r = KvRecoveryIT.recover(log, ENV, s.port());
            try {
                checkAll(fc, r.port(), acked, "after " + rounds + " kills right after going live");
            } finally {
                KvRecoveryIT.kill(r);
            }
        });
    }

    /**
     * A recovery killed as it goes live can leave a session that holds only its header (the
     * {@code CONTINUES} record was still in the writer's ring). Such a session is written here
     * directly, twice, between recoveries that take SETs: each later recovery must replay through
     * it, so no acknowledged SET is lost (before the fix, the run ended at the empty session and
     * the next recovery forked the log from there).
     */
    @Test
    void aSessionThatHoldsOnlyItsHeaderIsPassedOver() throws Exception {
        FaultCase.run("empty-session", fc -> {
            Path log = Files.createDirectories(tmp.resolve("empty"));
            fc.keepOnFailure(log);
            Map<String, String[]> acked = java.util.Collections.synchronizedMap(new LinkedHashMap<>());
            Server s = KvRecoveryIT.record(log, ENV, "pessimistic");
            setSome(s.port(), acked, "k", 20);
            KvRecoveryIT.kill(s);
            for (int round = 0; round < 2; round++) {
                dev.revenant.log.LogWriter.open(log).close(); // a session with its header only
                Server r = KvRecoveryIT.recover(log, ENV, s.port());
                setSome(r.port(), acked, "e" + round + "-", 8);
                KvRecoveryIT.kill(r);
            }
            Server r = KvRecoveryIT.recover(log, ENV, s.port());
            try {
                checkAll(fc, r.port(), acked, "after two empty sessions");
            } finally {
                KvRecoveryIT.kill(r);
            }
        });
    }

    /**
     * A log that forks (a session continued the run from an earlier point than the records before
     * it, as recoveries before the fix above left behind) cannot be replayed exactly: recovery must
     * stop with exit 3 and say where, not go live with a state no process had.
     */
    @Test
    void aForkedLogIsRefused() throws Exception {
        Path log = Files.createDirectories(tmp.resolve("forked"));
        Map<String, String[]> acked = java.util.Collections.synchronizedMap(new LinkedHashMap<>());
        Server s = KvRecoveryIT.record(log, ENV, "pessimistic");
        setSome(s.port(), acked, "k", 8);
        KvRecoveryIT.kill(s);
        // a session that says it went on from position 3, long before the SETs above
        try (dev.revenant.log.LogWriter w = dev.revenant.log.LogWriter.open(log)) {
            w.awaitStable(w.append(dev.revenant.log.RecordTypes.CONTINUES, 1, 0,
                    "continues the run after position 3 (2 determinants replayed)"
                            .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        }
        try (JavaProcess p = startRecover(log)) {
            org.assertj.core.api.Assertions.assertThat(p.waitForExit(120)).as(String.join("\n", p.errLines)).isEqualTo(3);
            org.assertj.core.api.Assertions.assertThat(p.errLines).anyMatch(l -> l.contains("the log forks at position")
                    && l.contains("continued the run after position 3"));
            org.assertj.core.api.Assertions.assertThat(p.errLines).noneMatch(l -> l.startsWith("revenant: live"));
        }
    }
}
