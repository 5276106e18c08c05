package dev.revenant.it;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A child JVM started with the test class path, whose output lines the test can wait on (with a
 * time limit, never a blind sleep).
 */
final class JavaProcess implements AutoCloseable {
    static final List<String> CHRONICLE_FLAGS = List.of(
            "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
            "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED", "-Dchronicle.analytics.disable=true");

    final Process process;
    final List<String> lines = new CopyOnWriteArrayList<>();
    final List<String> errLines = new CopyOnWriteArrayList<>();

    private final List<Thread> pumps = new ArrayList<>();

    private JavaProcess(Process p) {
        this.process = p;
        pumps.add(pump(new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)), lines));
        pumps.add(pump(new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8)), errLines));
    }

    static String javaBin() {
        return ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString());
    }

    /** Starts {@code mainClass} with the test class path and the flags Chronicle needs. */
    static JavaProcess start(Map<String, String> env, Class<?> mainClass, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaBin());
        cmd.addAll(CHRONICLE_FLAGS);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass.getName());
        cmd.addAll(List.of(args));
        return start(env, cmd);
    }

    static JavaProcess start(Map<String, String> env, List<String> cmd) throws IOException {
        return start(env, null, cmd);
    }

    /** Starts {@code cmd} in the working directory {@code dir} (null: this one). */
    static JavaProcess start(Map<String, String> env, java.nio.file.Path dir, List<String> cmd) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        pb.environment().putAll(env);
        return new JavaProcess(pb.start());
    }

    private static Thread pump(BufferedReader r, List<String> into) {
        Thread t = new Thread(() -> {
            try {
                for (String line; (line = r.readLine()) != null; ) {
                    into.add(line);
                }
            } catch (IOException ignored) {
                // the process died; what we read stays
            }
        }, "pump");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Waits until a stdout line matches, or fails with what the process printed. */
    String await(Predicate<String> p, long timeoutSeconds) throws InterruptedException {
        return awaitLine(lines, p, timeoutSeconds);
    }

    private String awaitLine(List<String> in, Predicate<String> p, long timeoutSeconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (System.nanoTime() < deadline) {
            for (String l : in) {
                if (p.test(l)) {
                    return l;
                }
            }
            if (!process.isAlive()) {
                Thread.sleep(50); // let the pumps drain what the process printed last
                for (String l : in) {
                    if (p.test(l)) {
                        return l;
                    }
                }
                throw new AssertionError("process exited " + process.exitValue() + " before the expected line; "
                        + "stdout=" + tail(lines) + " stderr=" + tail(errLines));
            }
            Thread.sleep(10);
        }
        throw new AssertionError("timed out after " + timeoutSeconds + " s; stdout=" + tail(lines) + " stderr="
                + tail(errLines));
    }

    /** Waits until a stderr line matches. */
    String awaitErr(Predicate<String> p, long timeoutSeconds) throws InterruptedException {
        return awaitLine(errLines, p, timeoutSeconds);
    }

    long count(Predicate<String> p) {
        return lines.stream().filter(p).count();
    }

    /** SIGKILL, then wait for the process to be gone. */
    void kill9() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("process did not die after SIGKILL");
        }
    }

    int waitForExit(long seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("process did not exit within " + seconds + " s; stdout=" + tail(lines)
                    + " stderr=" + tail(errLines));
        }
        // Everything it printed is read once both pipes are at their end; a child it left running
        // may hold them open, so the wait is bounded.
        for (Thread t : pumps) {
            t.join(5_000);
        }
        return process.exitValue();
    }

    /**
     * The thread stacks of this process and every process it started ({@code jcmd Thread.print},
     * 20 s at most each), for a test to print when a process it waits on stops making progress.
     */
    String threadDumps() {
        StringBuilder out = new StringBuilder();
        List<ProcessHandle> all = new ArrayList<>();
        all.add(process.toHandle());
        process.toHandle().descendants().forEach(all::add);
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        for (ProcessHandle h : all) {
            out.append("=== threads of pid ").append(h.pid()).append(' ')
                    .append(h.info().commandLine().orElse("?")).append('\n');
            // Into a file, not a pipe: reading a pipe would wait for jcmd's end however long it
            // takes, and a wedged JVM can keep jcmd waiting; the file is read after a bounded wait.
            Path text = null;
            try {
                text = Files.createTempFile("threads-" + h.pid() + "-", ".txt");
                Process d = new ProcessBuilder(jcmd.toString(), Long.toString(h.pid()), "Thread.print")
                        .redirectErrorStream(true).redirectOutput(text.toFile()).start();
                if (!d.waitFor(20, TimeUnit.SECONDS)) {
                    d.destroyForcibly();
                    out.append("(jcmd did not finish within 20 s; what it wrote:)\n");
                }
                out.append(Files.readString(text, StandardCharsets.UTF_8));
            } catch (IOException | InterruptedException e) {
                out.append("(no dump: ").append(e).append(")\n");
            } finally {
                if (text != null) {
                    text.toFile().delete();
                }
            }
        }
        return out.toString();
    }

    private static List<String> tail(List<String> l) {
        return l.size() > 20 ? l.subList(l.size() - 20, l.size()) : l;
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill9();
        }
    }
}
