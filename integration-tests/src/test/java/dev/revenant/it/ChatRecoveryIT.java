package dev.revenant.it;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * demo-apps' ChatRelay (a reader and a writer thread per connection, one relay thread numbering
 * messages, blocking queues between them all) recorded under the serial scheduler while 4 clients on
 * 4 connections talk at once, killed with SIGKILL at a seeded random point, recovered with the real
 * CLI, twice in one log. Every client checks as it goes that it receives every message numbered after
 * its join, in order, and that no two clients were told different things under one number. After each
 * recovery the relay's history must hold every message any client saw, under the number it was seen
 * with; what else it holds may only be messages that were in flight at the kill, each once. Then new
 * clients join at the history's end and talk again, checked the same way.
 */
@Tag("scheduler")
class ChatRecoveryIT {
    static final int CLIENTS = 4;

    @TempDir
    Path tmp;

    /** What the clients were told, by number, and what each had said without seeing it come back. */
    static final class Ledger {
        final Map<Integer, String> seen = new ConcurrentHashMap<>();
        final Map<Integer, String> inflight = new ConcurrentHashMap<>();
        final AtomicLong echoes = new AtomicLong();
    }

    static void client(int id, int port, Ledger l, String tag, AtomicBoolean stop, List<Throwable> failures) {
        String name = "c" + id;
        try (KvRecoveryIT.Client c = new KvRecoveryIT.Client(port)) {
            String joined = c.call("JOIN " + name);
            if (!joined.startsWith("JOINED ")) {
                throw new AssertionError(name + ": JOIN answered " + joined);
            }
            int next = Integer.parseInt(joined.substring(7)) + 1;
            for (long k = 0; !stop.get(); k++) {
                String text = tag + "." + id + "." + k;
                l.inflight.put(id, name + " " + text);
                c.out.write(("SAY " + text + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
                c.out.flush();
                while (true) {
                    String line = c.in.readLine();
                    if (line == null) {
                        throw new IOException("connection closed");
                    }
                    String[] t = line.split(" ", 4);
                    if (t.length != 4 || !t[0].equals("MSG")) {
                        throw new AssertionError(name + ": expected MSG, got " + line);
                    }
                    int n = Integer.parseInt(t[1]);
                    if (n != next) {
                        throw new AssertionError(name + ": got message " + n + " where " + next + " was due: " + line);
                    }
                    next++;
                    String body = t[2] + " " + t[3];
                    String before = l.seen.putIfAbsent(n, body);
                    if (before != null && !before.equals(body)) {
                        throw new AssertionError("message " + n + " was '" + before + "' to one client and '" + body
                                + "' to " + name);
                    }
                    if (body.equals(name + " " + text)) {
                        break;
                    }
                }
                l.inflight.remove(id);
                l.echoes.incrementAndGet();
            }
        } catch (IOException e) {
            // the relay died under us: the message in flight stays uncertain
        } catch (Throwable e) {
            failures.add(e);
        }
    }

    static void load(int port, Ledger l, Random rnd, String tag, Runnable until) throws Exception {
        ClientThreads.run(CLIENTS, "chat-client", rnd, (id, seed, stop, failures) -> client(id, port, l, tag, stop, failures),
                until);
    }

    /** The relay's whole history, by number; the last number is {@code END}'s. */
    static Map<Integer, String> history(int port) throws IOException {
        Map<Integer, String> h = new HashMap<>();
        try (KvRecoveryIT.Client c = new KvRecoveryIT.Client(port)) {
            for (String line = c.call("HIST 1"); !line.startsWith("END "); line = c.in.readLine()) {
                if (line == null || !line.startsWith("H ")) {
                    throw new IOException("HIST answered " + line);
                }
                String[] t = line.split(" ", 3);
                h.put(Integer.parseInt(t[1]), t[2]);
                if (h.size() > 10_000_000) {
                    throw new IOException("HIST does not end");
                }
            }
        }
        return h;
    }

    /** The history against the ledger; what is unseen must be in-flight messages, each once. Empty: all is well. */
    static List<String> check(int port, Ledger l) throws IOException {
        List<String> problems = new ArrayList<>();
        Map<Integer, String> h = history(port);
        for (int n = 1; n <= h.size(); n++) {
            if (!h.containsKey(n)) {
                problems.add("the history has " + h.size() + " messages but none numbered " + n);
                return problems;
            }
        }
        l.seen.forEach((n, body) -> {
            if (!body.equals(h.get(n))) {
                problems.add("message " + n + " was '" + body + "' to the clients and is '" + h.get(n) + "' in the history");
            }
        });
        List<String> uncertain = new ArrayList<>(l.inflight.values());
        h.forEach((n, body) -> {
            if (!l.seen.containsKey(n) && !uncertain.remove(body)) {
                problems.add("message " + n + " '" + body + "' was never seen and was not in flight (in flight: "
                        + l.inflight.values() + ")");
            }
        });
        if (h.values().stream().distinct().count() != h.size()) {
            problems.add("a message is in the history twice");
        }
        l.seen.putAll(h);
        l.inflight.clear();
        return problems;
    }

    @Test
    void everyClientSeesOneOrderAndItSurvivesTwoRecoveries() throws Exception {
        long seed = KillRecoverCycles.seed("chat");
        Random rnd = new Random(seed);
        Ledger l = new Ledger();
        KillRecoverCycles.App app = KillRecoverCycles.startDemo("chat", tmp, "dev.revenant.demo.ChatRelay",
                "chat listening on ", l.echoes);
        KillRecoverCycles.run(app, 2, seed, rnd, 20, 300, (tag, until) -> load(app.port, l, rnd, tag, until),
                () -> check(app.port, l));
    }
}
