package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.revenant.log.LogReader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.RecordTypes;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A thread-per-connection server whose threads share one store (demo-apps' ThreadedKvServer:
 * KvServer's protocol, a ReentrantLock around the store and its Random), recorded under the serial
 * scheduler while 4 clients on 4 connections write concurrently, killed with SIGKILL at a seeded
 * random point, recovered with the real CLI: recover says "live" once, only after the whole log was
 * replayed; every acknowledged SET is there with its value and write id; the server goes on serving
 * new clients. Twice in one log, so the second recovery replays a recovered epoch too.
 */
@Tag("scheduler")
class ThreadedKvRecoveryIT {
    static final int CLIENTS = 4;
    static final int KEYS_PER_CLIENT = 16;
    static final int CYCLES = Integer.getInteger("revenant.it.threadedKvCycles", 2);

    @TempDir
    Path tmp;

    static List<String> serverCommand(String mainClass) {
        return List.of(JavaProcess.javaBin(), "-cp", AgentStartupIT.demoJar().toString(), mainClass, "0");
    }

    /** What the clients were told: key -> {value, id}; and SETs sent without an answer (key -> value). */
    static final class Acks {
        final Map<String, String[]> acked = new ConcurrentHashMap<>();
        final Map<String, String> inflight = new ConcurrentHashMap<>();
        final AtomicLong replies = new AtomicLong();
    }

    /** One client on its own connection: SETs (and now and then a GET of its own last SET) until stopped or the server dies. */
    static void writer(int client, int port, Acks a, long seed, AtomicBoolean stop, List<Throwable> failures) {
        Random rnd = new Random(seed);
        try (KvRecoveryIT.Client c = new KvRecoveryIT.Client(port)) {
            for (long n = 0; !stop.get(); n++) {
                String key = "c" + client + "-k" + rnd.nextInt(KEYS_PER_CLIENT);
                if (rnd.nextInt(4) == 0) {
                    String r = c.call("GET " + key);
                    String[] was = a.acked.get(key);
                    String expect = was == null ? "NIL" : "VALUE " + was[0] + " " + was[1];
                    if (!r.equals(expect)) {
                        throw new AssertionError("client " + client + ": GET " + key + " = " + r + ", expected " + expect);
                    }
                } else {
                    String value = "v" + client + "." + n;
                    a.inflight.put(key, value);
                    String r = c.call("SET " + key + " " + value);
                    if (!r.startsWith("OK ") || r.length() != 19) {
                        throw new AssertionError("client " + client + ": SET reply " + r);
                    }
                    a.acked.put(key, new String[] {value, r.substring(3)});
                    a.inflight.remove(key);
                }
                a.replies.incrementAndGet();
            }
        } catch (IOException e) {
            // the server died under us: the SET in flight stays uncertain
        } catch (Throwable e) {
            failures.add(e);
        }
    }

    /** Runs CLIENTS writers, each on its own connection, until {@code until} returns; then stops them. */
    static void load(int port, Acks a, Random rnd, Runnable until) throws Exception {
        ClientThreads.run(CLIENTS, "kv-writer", rnd, (client, seed, stop, failures) -> writer(client, port, a, seed, stop, failures),
                until);
    }

    /** Every key against what the clients were told; an uncertain SET may have taken effect. */
    static List<String> check(int port, Acks a) throws IOException {
        List<String> problems = new ArrayList<>();
        try (KvRecoveryIT.Client c = new KvRecoveryIT.Client(port)) {
            for (int client = 0; client < CLIENTS; client++) {
                for (int k = 0; k < KEYS_PER_CLIENT; k++) {
                    String key = "c" + client + "-k" + k;
                    String r = c.call("GET " + key);
                    String[] was = a.acked.get(key);
                    String uncertain = a.inflight.remove(key);
                    String expect = was == null ? "NIL" : "VALUE " + was[0] + " " + was[1];
                    if (r.equals(expect)) {
                        continue;
                    }
                    if (uncertain != null && r.startsWith("VALUE " + uncertain + " ")) {
                        a.acked.put(key, new String[] {uncertain, r.substring(("VALUE " + uncertain + " ").length())});
                        continue;
                    }
                    problems.add("GET " + key + " = " + r + ", but the client was told " + expect);
                }
            }
        }
        return problems;
    }

    /** The last position in the log and how many records of each session it holds, read as recover will. */
    static long lastPosition(Path log) throws IOException {
        try (LogReader r = LogReader.open(log, LogReader.Mode.LENIENT)) {
            long last = -1;
            for (LogRecord rec; (rec = r.next()) != null; ) {
                last = rec.position();
            }
            return last;
        }
    }

    static final Pattern LIVE = Pattern.compile("revenant recover: live again \\(pid (\\d+)\\): epoch (\\d+), (\\d+) "
            + "determinants replayed in (\\d+) ms, listening on /127\\.0\\.0\\.1:(\\d+),.*");

    /**
     * {@code revenant recover} (not --json: the sentence a person reads), once it says live. Checks
     * that the live line is the only line mentioning "live", and that it came after the replay
     * reached the end of what the crashed process left: the CONTINUES record the recovered process
     * wrote says it continues after the log's last position before the recovery.
     */
    static KvRecoveryIT.Server recover(Path log, int port, List<String> server, int epoch) throws Exception {
        return recover(log, port, server, epoch, false);
    }

    /**
     * As above; with {@code refusalAllowed}, a recovery that stops with a divergence report (exit 3,
     * nothing said live) returns null instead of failing: it said clearly that it could not recover
     * exactly. A hang, a crash or any other exit still fails.
     */
    static KvRecoveryIT.Server recover(Path log, int port, List<String> server, int epoch, boolean refusalAllowed)
            throws Exception {
        long end = lastPosition(log);
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "recover",
                "--log", log.toString(), "--"));
        cmd.addAll(server);
        JavaProcess p = JavaProcess.start(Map.of("REVENANT_NO_PROGRESS", "1"), cmd);
        String line;
        try {
            line = p.awaitErr(s -> s.contains("live"), 120);
        } catch (AssertionError e) {
            // The tail the wait reports can miss the head of a divergence report: give its first lines.
            List<String> err = p.errLines.stream().filter(x -> !x.startsWith("WARNING: ")).limit(8).toList();
            if (refusalAllowed && p.process.waitFor(30, TimeUnit.SECONDS) && p.process.exitValue() == 3
                    && err.stream().anyMatch(x -> x.contains("replay diverged at log position"))
                    && count(p.errLines, "live") == 0) {
                System.out.println("recover refused, exit 3: " + String.join(" / ", err));
                return null;
            }
            System.out.println("recover did not go live; what its processes were doing:\n" + p.threadDumps());
            throw new AssertionError("recover did not go live; its stderr begins: " + err, e);
        }
        Matcher m = LIVE.matcher(line);
        assertThat(m.matches()).as("the first line that says live is recover's summary: " + line).isTrue();
        assertThat(Integer.parseInt(m.group(2))).as("epoch").isEqualTo(epoch);
        assertThat(Integer.parseInt(m.group(5))).as("the recorded port").isEqualTo(port);
        long pid = Long.parseLong(m.group(1));
        String continues = continuesNote(log, epoch);
        assertThat(continues).as("CONTINUES of epoch " + epoch + " (recover said: " + line + ")")
                .startsWith("continues the run after position " + end + " (")
                .contains("(" + m.group(3) + " determinants replayed)");
        KvRecoveryIT.Server s = new KvRecoveryIT.Server(p, pid, port);
        System.out.printf("recovered epoch %d: %s; log ended at %d before it%n", epoch, line, end);
        return s;
    }

    /** The text of the CONTINUES record that session {@code epoch} wrote. */
    static String continuesNote(Path log, int epoch) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            try (LogReader r = LogReader.open(log, LogReader.Mode.LENIENT)) {
                for (LogRecord rec; (rec = r.next()) != null; ) {
                    if (rec.type() == RecordTypes.CONTINUES && rec.epoch() == epoch) {
                        return new String(rec.payload(), java.nio.charset.StandardCharsets.UTF_8);
                    }
                }
            }
            Thread.sleep(50); // written before the live line, stable with the first force after it
        }
        return "no CONTINUES record in epoch " + epoch;
    }

    static long count(List<String> lines, String word) {
        return lines.stream().filter(l -> l.contains(word)).count();
    }

    @Test
    void everyAcknowledgedPutSurvivesKillAndRecovery() throws Exception {
        run("dev.revenant.demo.ThreadedKvServer", tmp, "threaded-kv", CYCLES);
    }

    /** Record, then CYCLES times: concurrent writers, kill -9 at a seeded random point, recover, check. */
    static void run(String mainClass, Path tmp, String name, int cycles) throws Exception {
        long seed = KillRecoverCycles.seed(name);
        Random rnd = new Random(seed);
        Acks a = new Acks();
        KillRecoverCycles.App app = KillRecoverCycles.startDemo(name, tmp, mainClass, "kv listening on ", a.replies);
        KillRecoverCycles.run(app, cycles, seed, rnd, 20, 400, (tag, until) -> load(app.port, a, rnd, until),
                () -> check(app.port, a));
    }
}
