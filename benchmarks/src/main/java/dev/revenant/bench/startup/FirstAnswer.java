package dev.revenant.bench.startup;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Start-up as a server's first client feels it: spawn a demo app's JVM ({@code KvServer} or
 * {@code HttpCounter}, told to listen on a port that was just free), then connect to that port and
 * send the first request in a loop, every {@value #POLL_MILLIS} ms, until a reply comes back;
 * the figure is the wall time from just before the spawn to the reply's first line. Under the
 * agent the server's bind waits until the log's header is durable, so until then connecting is
 * refused.
 *
 * <p>Figures per run (ms): {@code answer} (spawn to the first reply), {@code cpu} (CPU time of all
 * the server's threads at that moment, from {@code /proc/<pid>/stat}, 10 ms ticks), {@code ready}
 * (spawn until its "listening on" line reached us; informational), {@code attempts} (connection
 * attempts, the last one answered), {@code durable} (agent runs: launch until the log's header
 * and environment record were forced, from the agent's {@code REVENANT_DEBUG_STARTUP} output).
 * The server is then killed (SIGKILL) and its log directory deleted.
 */
final class FirstAnswer {

    static final long POLL_MILLIS = 2;

    /** How to ask a demo app one question, and how to tell its answer. */
    enum App {
        KV("dev.revenant.demo.KvServer", "kv listening on", List.of()),
        // The same option as benchmarks/e2e/apps.sh: without TCP_NODELAY, Nagle meets delayed ACK.
        HTTP("dev.revenant.demo.HttpCounter", "http listening on", List.of("-Dsun.net.httpserver.nodelay=true"));

        final String mainClass;
        final String readyLine;
        final List<String> jvmOpts;

        App(String mainClass, String readyLine, List<String> jvmOpts) {
            this.mainClass = mainClass;
            this.readyLine = readyLine;
            this.jvmOpts = jvmOpts;
        }

        byte[] request(int port) {
            String r = this == KV ? "PING\n"
                : "GET /get HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nConnection: close\r\n\r\n";
            return r.getBytes(StandardCharsets.US_ASCII);
        }

        boolean answered(String firstLine) {
            return this == KV ? "PONG".equals(firstLine) : firstLine != null && firstLine.startsWith("HTTP/1.1 200");
        }
    }

    private FirstAnswer() {
    }

    /**
     * One run. {@code agentOpts} are the JVM options that attach the agent (empty for the baseline);
     * {@code log} is deleted afterwards.
     */
    static Sample run(String scenario, App app, String java, List<String> jvmOpts, List<String> agentOpts, String cp,
        Path log, int index, long timeoutMillis) throws IOException, InterruptedException {
        int port = StartupSupport.freePort();
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        cmd.addAll(jvmOpts);
        cmd.addAll(app.jvmOpts);
        cmd.addAll(agentOpts);
        cmd.add("-cp");
        cmd.add(cp);
        cmd.add(app.mainClass);
        cmd.add(Integer.toString(port));
        ProcessBuilder pb = StartupSupport.processBuilder(cmd);
        StartupSupport.deleteRecursively(log);

        long launch = System.currentTimeMillis();
        long t0 = System.nanoTime();
        Process p = pb.start();
        AtomicLong readyAt = new AtomicLong(-1);
        StringBuilder out = new StringBuilder();
        Thread outReader = new Thread(() -> readStdout(p, app, readyAt, out));
        outReader.setDaemon(true);
        outReader.start();
        StringBuilder err = new StringBuilder();
        Thread errReader = StartupSupport.drainer(p.getErrorStream(), err);

        long deadline = t0 + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
        byte[] request = app.request(port);
        int attempts = 0;
        long answeredAt = -1;
        double cpu = Double.NaN;
        try {
            while (answeredAt < 0) {
                if (System.nanoTime() > deadline || !p.isAlive()) {
                    throw new IllegalStateException(scenario + ": no answer " + (p.isAlive() ? "within " + timeoutMillis
                        + " ms" : "(the server exited " + p.exitValue() + ")") + " after " + attempts
                        + " attempts: " + cmd + "\nstdout: " + out + "\nstderr: " + err);
                }
                attempts++;
                if (ask(address, request, app, deadline)) {
                    answeredAt = System.nanoTime();
                    cpu = StartupSupport.processCpuMillis(p.pid());
                } else {
                    Thread.sleep(POLL_MILLIS);
                }
            }
        } finally {
            p.destroyForcibly();
            p.waitFor(60, TimeUnit.SECONDS);
            errReader.join(10_000);
            outReader.join(10_000);
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("answer", (answeredAt - t0) / 1e6);
        m.put("cpu", cpu);
        m.put("ready", readyAt.get() < 0 ? Double.NaN : (readyAt.get() - t0) / 1e6);
        m.put("attempts", (double) attempts);
        String stderr;
        synchronized (err) {
            stderr = err.toString();
        }
        m.put("durable", HelloRun.durableAt(stderr, launch));
        String phases = HelloRun.phases(stderr);
        StartupSupport.deleteRecursively(log);
        return new Sample(scenario, !agentOpts.isEmpty(), index, m, phases);
    }

    /** One attempt: connect, send the request, read the first line of the reply. */
    private static boolean ask(InetSocketAddress address, byte[] request, App app, long deadline) {
        try (Socket s = new Socket()) {
            s.setTcpNoDelay(true);
            s.connect(address, 1000);
            s.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            OutputStream o = s.getOutputStream();
            o.write(request);
            o.flush();
            BufferedReader r = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            return app.answered(r.readLine());
        } catch (IOException refusedOrReset) {
            return false;
        }
    }

    private static void readStdout(Process p, App app, AtomicLong readyAt, StringBuilder out) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (readyAt.get() < 0 && line.startsWith(app.readyLine)) {
                    readyAt.set(System.nanoTime());
                }
                if (out.length() < 10_000) {
                    out.append(line).append('\n');
                }
            }
        } catch (IOException ignored) {
            // killed
        }
    }
}
