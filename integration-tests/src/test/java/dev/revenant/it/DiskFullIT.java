package dev.revenant.it;

import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.revenant.it.KvRecoveryIT.Client;
import dev.revenant.it.KvRecoveryIT.Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The log's file system fills up, or turns read-only, under a recording KvServer with real socket
 * clients. The log lives on a small loop-mounted ext4; a filler file takes the rest of it. What must
 * hold: the app does not crash; a reply whose request could not be logged is not sent (held, or with
 * {@code diskfull=fail} the app's write fails); the agent says once on stderr what happened; when
 * space returns the log resumes by itself and the held reply arrives; after kill -9 and
 * {@code revenant recover} every acknowledged SET is there. Needs root and loop devices; it fails
 * (never skips) where it cannot mount.
 */
class DiskFullIT {
    static final Map<String, String> ENV = Map.of("REVENANT_NO_PROGRESS", "1");
    /** Large values use up the blocks the log reserved ahead in a few hundred requests. */
    static final String BIG = "x".repeat(16 << 10);

    @TempDir
    Path tmp;

    static Server start(Path log, String extraArgs) throws Exception {
        return start(log, extraArgs, List.of());
    }

    static Server start(Path log, String extraArgs, List<String> jvmFlags) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin()));
        cmd.addAll(jvmFlags);
        cmd.add("-javaagent:" + Cli.agentJar() + "=log=" + log + extraArgs);
        cmd.addAll(KvRecoveryIT.serverCommand().subList(1, KvRecoveryIT.serverCommand().size()));
        JavaProcess p = JavaProcess.start(ENV, cmd);
        String l = p.await(s -> s.startsWith("kv listening on "), 60);
        return new Server(p, p.process.pid(), Integer.parseInt(l.substring("kv listening on ".length()).trim()));
    }

    static void send(Client c, String line) throws IOException {
        c.out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        c.out.flush();
    }

    /** The next reply line, or null if none came within {@code millis}; throws if the connection ended. */
    static String reply(Client c, int millis) throws IOException {
        c.s.setSoTimeout(millis);
        try {
            String r = c.in.readLine();
            if (r == null) {
                throw new IOException("connection closed by the server");
            }
            return r;
        } catch (SocketTimeoutException held) {
            return null;
        }
    }

    /** SET key value; records the acknowledgement {value, id}. */
    static void set(Client c, Map<String, String[]> acked, String key, String value) throws IOException {
        send(c, "SET " + key + " " + value);
        String r = reply(c, 30_000);
        if (r == null || !r.startsWith("OK ")) {
            throw new AssertionError("SET " + key + " got " + r);
        }
        acked.put(key, new String[] {value, r.substring(3)});
    }

    /** The first SET not answered on a full disk, and whether the server closed the connection instead. */
    record Unanswered(String key, boolean closed) {}

    /** Sends SETs until one gets no reply within a few seconds (or the connection ends). */
    static Unanswered setUntilHeld(FaultCase fc, Client c, Map<String, String[]> acked, String prefix) throws IOException {
        for (int n = 0; n < 4000; n++) {
            String key = prefix + n;
            String value = BIG + n;
            send(c, "SET " + key + " " + value);
            String r;
            try {
                r = reply(c, 3_000);
            } catch (IOException e) {
                System.out.printf("%s: SET %d not answered, the connection ended (%s)%n", prefix, n, e.getMessage());
                return new Unanswered(key, true);
            }
            if (r == null) {
                System.out.printf("%s: reply to SET %d held once the disk was full%n", prefix, n);
                return new Unanswered(key, false);
            }
            fc.check(r.startsWith("OK "), "SET " + key + " answered " + r);
            acked.put(key, new String[] {value, r.substring(3)});
        }
        fc.check(false, "4000 SETs of 16 KiB were all answered on a full disk");
        return null;
    }

    /** After kill -9 and recover: every acknowledged SET with its value and id. */
    static void recoverAndCheck(FaultCase fc, Path log, Server s, Map<String, String[]> acked) throws Exception {
        KvRecoveryIT.kill(s);
        Server r = KvRecoveryIT.recover(log, ENV, s.port());
        try (Client c = new Client(r.port())) {
            int ok = 0;
            for (Map.Entry<String, String[]> e : acked.entrySet()) {
                send(c, "GET " + e.getKey());
                String got = reply(c, 30_000);
                String want = "VALUE " + e.getValue()[0] + " " + e.getValue()[1];
                if (want.equals(got)) {
                    ok++;
                } else {
                    fc.check(false, "after recover GET " + e.getKey() + " = " + abbreviate(got) + ", acknowledged "
                            + abbreviate(want));
                }
            }
            fc.check(ok == acked.size(), ok + " of " + acked.size() + " acknowledged SETs are there after recover");
        } finally {
            KvRecoveryIT.kill(r);
        }
    }

    static String abbreviate(String s) {
        return s == null || s.length() < 80 ? s : s.substring(0, 40) + "…" + s.substring(s.length() - 30);
    }

    static boolean saidOnce(Server s, String... parts) throws InterruptedException {
        try {
            s.proc().awaitErr(l -> {
                for (String p : parts) {
                    if (!l.contains(p)) {
                        return false;
                    }
                }
                return true;
            }, 15);
        } catch (AssertionError e) {
            return false;
        }
        return s.proc().errLines.stream().filter(l -> l.contains(parts[0])).count() == 1;
    }

    @Test
    void fullDiskHoldsRepliesUntilSpaceReturns() throws Exception {
        fullDiskHolds("diskfull-hold", List.of());
    }

    /**
     * The same while the writer still reserves blocks by writing them (as it does until the POSIX
     * layer is built, at start-up): kept so for the whole run, the refusal comes from a write.
     */
    @Test
    void fullDiskHoldsRepliesWhileReservationsAreWritten() throws Exception {
        fullDiskHolds("diskfull-hold-written", List.of("-Drevenant.log.posixDelayMillis=3600000"));
    }

    private void fullDiskHolds(String name, List<String> jvmFlags) throws Exception {
        FaultCase.run(name, fc -> {
            try (LoopFs fs = LoopFs.mount(tmp, 48)) {
                Path log = fs.dir.resolve("log");
                Server s = start(log, "", jvmFlags);
                Map<String, String[]> acked = new LinkedHashMap<>();
                try (Client c = new Client(s.port())) {
                    for (int i = 0; i < 10; i++) {
                        set(c, acked, "before-" + i, "v" + i);
                    }
                    fc.check(fs.fill("filler") > 0, "the filler took the rest of the file system");
                    Unanswered u = setUntilHeld(fc, c, acked, "full-");
                    fc.check(u != null && !u.closed(), "a reply is held once the log cannot reserve room");
                    String held = u == null ? "none" : u.key();
                    fc.check(reply(c, 2_000) == null, "still held two seconds later");
                    fc.check(s.proc().process.isAlive(), "the server is alive on a full disk");
                    fc.check(saidOnce(s, "cannot be written", "no space left on device", "diskfull=hold"),
                            "one loud line on stderr says the log is full and replies are held");
                    Files.delete(fs.dir.resolve("filler"));
                    String r = reply(c, 20_000);
                    fc.check(r != null && r.startsWith("OK "), "the held reply arrives once space returns: " + r);
                    if (r != null && r.startsWith("OK ")) {
                        acked.put(held, new String[] {BIG + held.substring("full-".length()), r.substring(3)});
                    }
                    fc.check(saidOnce(s, "can be written again"), "stderr says the log resumed");
                    for (int i = 0; i < 5; i++) {
                        set(c, acked, "after-" + i, "w" + i);
                    }
                }
                recoverAndCheck(fc, log, s, acked);
            }
        });
    }

    @Test
    void fullDiskWithDiskfullFailTellsTheApp() throws Exception {
        FaultCase.run("diskfull-fail", fc -> {
            try (LoopFs fs = LoopFs.mount(tmp, 48)) {
                Path log = fs.dir.resolve("log");
                Server s = start(log, ",diskfull=fail");
                Map<String, String[]> acked = new LinkedHashMap<>();
                try (Client c = new Client(s.port())) {
                    for (int i = 0; i < 10; i++) {
                        set(c, acked, "before-" + i, "v" + i);
                    }
                    fs.fill("filler");
                    Unanswered u = setUntilHeld(fc, c, acked, "full-");
                    fc.check(u != null, "the reply that could not be logged is not sent");
                    fc.check(saidOnce(s, "cannot be written", "diskfull=fail"), "stderr says the log is full, writes fail");
                    // The app's next write on that connection fails; KvServer closes the connection then.
                    boolean closed = u != null && u.closed();
                    if (!closed) {
                        try {
                            send(c, "SET again 1");
                            reply(c, 10_000);
                        } catch (IOException e) {
                            closed = true;
                        }
                    }
                    fc.check(closed, "the app's write failed and it closed the connection");
                }
                try (Client c2 = new Client(s.port())) {
                    boolean closed = false;
                    try {
                        send(c2, "SET during 1");
                        reply(c2, 10_000);
                    } catch (IOException e) {
                        closed = true;
                    }
                    fc.check(closed, "a new connection's reply fails too while the disk is full");
                }
                fc.check(s.proc().process.isAlive(), "the server is alive");
                Files.delete(fs.dir.resolve("filler"));
                fc.check(saidOnce(s, "can be written again"), "stderr says the log resumed");
                try (Client c3 = new Client(s.port())) {
                    for (int i = 0; i < 5; i++) {
                        set(c3, acked, "after-" + i, "w" + i);
                    }
                }
                fc.check(true, "replies flow again after space returned");
                recoverAndCheck(fc, log, s, acked);
            }
        });
    }

    @Test
    void readOnlyLogHoldsRepliesAndRecovers() throws Exception {
        FaultCase.run("unwritable-hold", fc -> {
            try (LoopFs fs = LoopFs.mount(tmp, 48)) {
                Path log = fs.dir.resolve("log");
                Server s = start(log, "");
                Map<String, String[]> acked = new LinkedHashMap<>();
                try (Client c = new Client(s.port())) {
                    for (int i = 0; i < 20; i++) {
                        set(c, acked, "before-" + i, "v" + i);
                    }
                    fs.breakIt();
                    send(c, "SET after-ro 1");
                    fc.check(reply(c, 3_000) == null, "no reply once the log's file system is read-only");
                    fc.check(s.proc().process.isAlive(), "the server is alive");
                    fc.check(saidOnce(s, "failed and records no more", "revenant recover"),
                            "one loud line on stderr says the log failed and what to do");
                    try (Client c2 = new Client(s.port())) {
                        send(c2, "SET another 1");
                        fc.check(reply(c2, 2_000) == null, "a new connection's reply is held too");
                    }
                }
                KvRecoveryIT.kill(s);
                fs.unmount();
                fs.mountAgain();
                fc.check(!fs.readOnly(), "mounted writable again");
                recoverAndCheck(fc, log, s, acked);
            }
        });
    }
}
