package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import dev.revenant.it.support.PowerCut;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JDK's own {@code com.sun.net.httpserver.HttpServer} (demo-apps' HttpCounter: default
 * executor, so every exchange runs on the single dispatcher thread) recorded, killed with SIGKILL
 * in the middle of streams of keep-alive requests from {@link #CLIENTS} connections at once,
 * power-cut, recovered with the real CLI — three times in one log. No increment a client was told
 * about is lost, the counter is ahead of the highest only by requests in flight at the kill, the id
 * of the last increment is the one its client was told, no value is ever given twice, and the next
 * increment continues without a gap.
 */
class HttpRecoveryIT {
    /** Keep-alive connections that increment at once. */
    static final int CLIENTS = 4;

    @TempDir
    Path tmp;

    /** A keep-alive HTTP/1.1 client on one connection: enough of the protocol for the counter. */
    static final class Http implements AutoCloseable {
        final Socket s;
        final BufferedReader in;
        final OutputStream out;

        Http(int port) throws IOException {
            s = new Socket();
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            s.setSoTimeout(30_000);
            in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
            out = s.getOutputStream();
        }

        /** Sends a request and returns the body of a 200 answer. */
        String call(String method, String path) throws IOException {
            out.write((method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String status = in.readLine();
            if (status == null) {
                throw new IOException("connection closed");
            }
            int length = -1;
            for (String h; (h = in.readLine()) != null && !h.isEmpty(); ) {
                if (h.toLowerCase().startsWith("content-length:")) {
                    length = Integer.parseInt(h.substring(15).trim());
                }
            }
            char[] body = new char[Math.max(0, length)];
            for (int n = 0; n < body.length; ) {
                int r = in.read(body, n, body.length - n);
                if (r < 0) {
                    throw new IOException("body cut short");
                }
                n += r;
            }
            if (!status.startsWith("HTTP/1.1 200")) {
                throw new AssertionError("unexpected answer " + status);
            }
            return new String(body).trim();
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    static List<String> serverCommand() {
        return List.of(JavaProcess.javaBin(), "-cp", AgentStartupIT.demoJar().toString(),
                "dev.revenant.demo.HttpCounter", "0");
    }

    /**
     * {@code revenant replay} of a killed HttpCounter prints what the recording printed: the
     * server's {@code getAddress()} asks {@code ServerSocketChannelImpl.isBound()}, which replay
     * answers from the log for the server it keeps unbound (before, it was null there and
     * {@code main} died of a NullPointerException while replay still exited 0).
     */
    @Test
    void replayPrintsTheLinesTheRecordingPrinted() throws Exception {
        Path log = tmp.resolve("printed");
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log));
        cmd.addAll(serverCommand().subList(1, serverCommand().size()));
        String listening;
        try (JavaProcess first = JavaProcess.start(java.util.Map.of(), cmd)) {
            listening = first.await(s -> s.startsWith("http listening on "), 60);
            int port = Integer.parseInt(listening.substring("http listening on ".length()).trim());
            try (Http h = new Http(port)) {
                for (int i = 1; i <= 5; i++) {
                    assertThat(h.call("POST", "/incr")).startsWith(i + " ");
                }
            }
            first.process.destroyForcibly();
            assertThat(first.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        List<String> replay = new ArrayList<>(List.of(JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "replay",
                "--log", log.toString(), "--"));
        replay.addAll(serverCommand());
        try (JavaProcess r = JavaProcess.start(java.util.Map.of("REVENANT_NO_PROGRESS", "1"), replay)) {
            int exit = r.waitForExit(120);
            String err = String.join("\n", r.errLines);
            assertThat(exit).as("replay: %s", err).isZero();
            assertThat(err).doesNotContain("Exception").contains("replay reached the end of the log");
            assertThat(r.lines).as("the recording printed %s", listening).containsExactly(listening);
        }
    }

    @Test
    void theCounterAndItsLastIdSurviveKillPowerCutAndRecovery() throws Exception {
        Random rnd = new Random(Long.getLong("revenant.it.seed", System.nanoTime()));
        Path log = tmp.resolve("http");
        Path shadow = tmp.resolve("shadow");
        Files.createDirectories(log);
        var env = KvRecoveryIT.env(log, shadow, -1);
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log));
        cmd.addAll(serverCommand().subList(1, serverCommand().size()));
        JavaProcess first = JavaProcess.start(env, cmd);
        String l = first.await(s -> s.startsWith("http listening on "), 60);
        int port = Integer.parseInt(l.substring("http listening on ".length()).trim());
        KvRecoveryIT.Server server = new KvRecoveryIT.Server(first, first.process.pid(), port);

        // Every increment any client was told about, by value: the counter never gives one twice.
        java.util.concurrent.ConcurrentHashMap<Long, String> told = new java.util.concurrent.ConcurrentHashMap<>();
        AtomicLong acked = new AtomicLong(); // the highest value any client was told
        for (int round = 0; round < 3; round++) {
            java.util.concurrent.atomic.AtomicInteger inflight = new java.util.concurrent.atomic.AtomicInteger();
            AtomicLong answers = new AtomicLong();
            List<Throwable> wrong = new java.util.concurrent.CopyOnWriteArrayList<>();
            List<Thread> clients = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                clients.add(new Thread(() -> {
                    try (Http h = new Http(port)) {
                        while (true) {
                            inflight.incrementAndGet();
                            String[] r = h.call("POST", "/incr").split(" ");
                            long n = Long.parseLong(r[0]);
                            inflight.decrementAndGet();
                            if (told.putIfAbsent(n, r[1]) != null) {
                                wrong.add(new AssertionError("incr gave " + n + " twice"));
                            }
                            acked.accumulateAndGet(n, Math::max);
                            answers.incrementAndGet();
                        }
                    } catch (IOException e) {
                        // the server died under us (the call in flight stays counted)
                    }
                }, "http-client-" + c));
            }
            clients.forEach(Thread::start);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (answers.get() < 40 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            Thread.sleep(rnd.nextInt(300));
            KvRecoveryIT.kill(server);
            for (Thread t : clients) {
                t.join(TimeUnit.SECONDS.toMillis(60));
                assertThat(t.isAlive()).as(t.getName() + " ended with the server").isFalse();
            }
            assertThat(wrong).isEmpty();
            PowerCut.apply(log, shadow);
            server = KvRecoveryIT.recover(log, env, port, serverCommand());
            try (Http h = new Http(port)) {
                String[] now = h.call("GET", "/get").split(" ");
                long n = Long.parseLong(now[0]);
                long max = acked.get();
                System.out.printf("http round %d: %d clients, %d increments acknowledged (highest %d), recovered %s %s,"
                        + " %d in flight at the kill%n", round, CLIENTS, told.size(), max, now[0], now[1], inflight.get());
                assertThat(n).as("no acknowledged increment is lost").isGreaterThanOrEqualTo(max);
                long untold = 0;
                for (long v = 1; v <= max; v++) {
                    untold += told.containsKey(v) ? 0 : 1; // given, but its answer was on the way at the kill
                }
                assertThat(n - max + untold).as("increments nobody was told of are at most those in flight")
                        .isLessThanOrEqualTo(inflight.get());
                for (long v = 1; v <= max; v++) {
                    told.putIfAbsent(v, "(in flight at the kill)");
                }
                if (n == max) {
                    assertThat(now[1]).as("the id of the last acknowledged increment").isEqualTo(told.get(max));
                }
                for (long v = max + 1; v <= n; v++) {
                    told.put(v, v == n ? now[1] : "(in flight at the kill)");
                }
                String[] next = h.call("POST", "/incr").split(" ");
                assertThat(Long.parseLong(next[0])).as("the next increment continues").isEqualTo(n + 1);
                told.put(n + 1, next[1]);
                acked.set(n + 1);
            }
            assertThat(told.keySet()).as("every value up to the counter was given once").hasSize((int) acked.get());
        }
        KvRecoveryIT.kill(server);
    }
}
