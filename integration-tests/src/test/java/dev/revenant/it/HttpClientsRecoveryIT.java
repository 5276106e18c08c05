package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HttpRecoveryIT with concurrent clients: demo-apps' HttpCounter (the JDK's HttpServer) under the
 * serial scheduler, 4 threads sending {@code POST /incr} through one {@code java.net.http.HttpClient}
 * (so several connections at once), kill -9 at a seeded random point, recover: no number was
 * given twice, the counter is at least the highest number acknowledged and at most the
 * acknowledged plus the uncertain ones, an acknowledged number read back has the id it was given,
 * and the next increment continues from it. Twice in one log.
 *
 * <p>Seen once in 2 runs on JDK 25 (2026-12-07, seed 53692544361022): the first recovery's replay
 * diverged (exit 3) with a stack in {@code DirectMethodHandle.preparedLambdaForm}, method-handle
 * linkage inside the JDK; the head of the report was lost (recover now reports it). Passed on JDK 17.
 */
@Tag("scheduler")
class HttpClientsRecoveryIT {
    static final int THREADS = 4;

    @TempDir
    Path tmp;

    static String call(HttpClient c, int port, String method, String path) throws IOException, InterruptedException {
        HttpRequest r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30)).method(method, HttpRequest.BodyPublishers.noBody()).build();
        HttpResponse<String> a = c.send(r, HttpResponse.BodyHandlers.ofString());
        if (a.statusCode() != 200) {
            throw new AssertionError("HTTP " + a.statusCode() + " for " + method + " " + path);
        }
        return a.body().trim();
    }

    @Test
    void concurrentIncrementsSurviveKillAndRecovery() throws Exception {
        long seed = Long.getLong("revenant.it.seed", System.nanoTime());
        System.out.println("http-clients: seed " + seed);
        Random rnd = new Random(seed);
        Path log = Files.createDirectories(tmp.resolve("http"));
        List<String> server = HttpRecoveryIT.serverCommand();
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log));
        cmd.addAll(server.subList(1, server.size()));
        JavaProcess first = JavaProcess.start(Map.of("REVENANT_NO_PROGRESS", "1"), cmd);
        String l = first.await(s -> s.startsWith("http listening on "), 60);
        int port = Integer.parseInt(l.substring("http listening on ".length()).trim());
        KvRecoveryIT.Server s = new KvRecoveryIT.Server(first, first.process.pid(), port);
        Map<Long, String> acked = new ConcurrentHashMap<>(); // number -> id
        try {
            for (int cycle = 0; cycle < 2; cycle++) {
                AtomicInteger inflight = new AtomicInteger();
                AtomicBoolean stop = new AtomicBoolean();
                List<Throwable> failures = new CopyOnWriteArrayList<>();
                HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                        .connectTimeout(Duration.ofSeconds(5)).build();
                int before = acked.size();
                List<Thread> threads = new ArrayList<>();
                for (int i = 0; i < THREADS; i++) {
                    threads.add(new Thread(() -> {
                        try {
                            while (!stop.get()) {
                                inflight.incrementAndGet();
                                String[] r = call(client, port, "POST", "/incr").split(" ");
                                if (acked.putIfAbsent(Long.parseLong(r[0]), r[1]) != null) {
                                    throw new AssertionError("incr gave " + r[0] + " twice");
                                }
                                inflight.decrementAndGet();
                            }
                        } catch (IOException | InterruptedException e) {
                            // the server died under us
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    }, "http-client-" + i));
                }
                threads.forEach(Thread::start);
                int killAfter = before + 10 + rnd.nextInt(200);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (acked.size() < killAfter && System.nanoTime() < deadline && failures.isEmpty()) {
                    Thread.sleep(1);
                }
                KvRecoveryIT.kill(s);
                stop.set(true);
                for (Thread t : threads) {
                    t.join(TimeUnit.SECONDS.toMillis(60));
                }
                assertThat(failures).as("what the clients saw before the kill").isEmpty();
                long max = acked.keySet().stream().mapToLong(Long::longValue).max().orElse(0);
                s = ThreadedKvRecoveryIT.recover(log, port, server, cycle + 1);
                HttpClient after = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
                String[] now = call(after, port, "GET", "/get").split(" ");
                long n = Long.parseLong(now[0]);
                System.out.printf("http-clients cycle %d: %d increments acknowledged (highest %d), %d uncertain; "
                        + "recovered %d %s%n", cycle, acked.size(), max, inflight.get(), n, now[1]);
                assertThat(n).as("the counter after recovery (seed %d)", seed).isGreaterThanOrEqualTo(max)
                        .isLessThanOrEqualTo(acked.size() + inflight.get());
                if (acked.containsKey(n)) {
                    assertThat(now[1]).as("the id of increment " + n).isEqualTo(acked.get(n));
                }
                String[] next = call(after, port, "POST", "/incr").split(" ");
                assertThat(Long.parseLong(next[0])).as("the next increment continues").isEqualTo(n + 1);
                for (long k = max + 1; k <= n; k++) {
                    acked.putIfAbsent(k, "uncertain"); // took effect before the crash, unanswered
                }
                acked.put(n + 1, next[1]);
            }
        } finally {
            KvRecoveryIT.kill(s);
        }
    }
}
