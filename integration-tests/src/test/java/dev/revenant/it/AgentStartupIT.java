package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded agent on a real app (demo-apps' Greeter), with no JVM flags of the user's: it records,
 * and refuses bad configuration with one line and exit code 2 — or, with strict=false, lets the
 * app run unrecorded with a loud warning.
 */
class AgentStartupIT {
    @TempDir
    Path tmp;

    static Path demoJar() {
        Path module = Path.of(System.getProperty("revenant.it.moduleDir", System.getProperty("user.dir")));
        return module.resolve("../demo-apps/target/demo-apps-0.1.0-SNAPSHOT.jar").normalize();
    }

    static JavaProcess greeter(String agentArgs) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(),
                "-javaagent:" + Cli.agentJar() + (agentArgs == null ? "" : "=" + agentArgs),
                "-cp", demoJar().toString(), "dev.revenant.demo.Greeter", "Ada"));
        return JavaProcess.start(Map.of(), cmd);
    }

    @Test
    void recordsTheSessionAndTheEnvironment() throws Exception {
        Path log = tmp.resolve("log");
        try (JavaProcess p = greeter("log=" + log)) {
            assertThat(p.waitForExit(120)).as(String.join("\n", p.errLines)).isZero();
            assertThat(p.lines).anyMatch(l -> l.startsWith("hello, Ada"));
            assertThat(p.errLines).noneMatch(l -> l.contains("SLF4J"));
        }
        Cli.Result r = Cli.run("inspect", "--log", log.toString(), "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"mainClass\":\"dev.revenant.demo.Greeter\"").contains("\"ENVIRONMENT\":1")
                .contains("\"HEADER\":1");
    }

    @Test
    void writesNothingOutsideTheLogDirectory() throws Exception {
        // jffi and JNA unpack native libraries into java.io.tmpdir and ~/.cache unless told
        // otherwise; a directory's mtime changes on every create and delete inside it.
        Path home = Files.createDirectories(tmp.resolve("home"));
        Path temp = Files.createDirectories(tmp.resolve("temp"));
        java.nio.file.attribute.FileTime old = java.nio.file.attribute.FileTime.fromMillis(946_684_800_000L);
        Files.setLastModifiedTime(home, old);
        Files.setLastModifiedTime(temp, old);
        Path log = tmp.resolve("log");
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-Duser.home=" + home,
                "-Djava.io.tmpdir=" + temp, "-javaagent:" + Cli.agentJar() + "=log=" + log,
                "-cp", demoJar().toString(), "dev.revenant.demo.Greeter"));
        try (JavaProcess p = JavaProcess.start(Map.of("HOME", home.toString()), cmd)) {
            assertThat(p.waitForExit(120)).as(String.join("\n", p.errLines)).isZero();
        }
        assertThat(Files.getLastModifiedTime(home)).as("nothing created in the home directory").isEqualTo(old);
        assertThat(Files.getLastModifiedTime(temp)).as("nothing created in java.io.tmpdir").isEqualTo(old);
        assertThat(log.resolve("stable.watermark")).exists();
    }

    @Test
    void renamedJarStillRecords() throws Exception {
        // Boot-Class-Path names revenant-agent.jar: under another name the bridge is copied into
        // the log directory and appended to the boot class path at run time instead. Nothing may
        // load a bridge class into the agent's loader before that (it once did, racily: a
        // LinkageError at start-up, when the class preloader linked a class naming a bridge type
        // first), so a few runs, and the preloader must stay off (REVENANT_DEBUG_STARTUP shows it).
        Path renamed = Files.copy(Cli.agentJar(), tmp.resolve("recorder-1.0.jar"));
        for (int i = 0; i < 3; i++) {
            Path log = tmp.resolve("log-" + i);
            List<String> cmd = List.of(JavaProcess.javaBin(), "-javaagent:" + renamed + "=log=" + log,
                    "-cp", demoJar().toString(), "dev.revenant.demo.Greeter", "Ada");
            try (JavaProcess p = JavaProcess.start(Map.of("REVENANT_DEBUG_STARTUP", "1"), cmd)) {
                assertThat(p.waitForExit(120)).as(String.join("\n", p.errLines)).isZero();
                assertThat(p.lines).anyMatch(l -> l.startsWith("hello, Ada"));
                assertThat(p.errLines).anyMatch(l -> l.startsWith("revenant startup:"))
                        .noneMatch(l -> l.contains("preloaded"));
            }
            assertThat(log.resolve(".native/revenant-bridge.jar")).exists();
        }
    }

    @Test
    void unknownKeyStopsStartUpWithOneLine() throws Exception {
        try (JavaProcess p = greeter("lgo=/tmp/x")) {
            assertThat(p.waitForExit(120)).isEqualTo(2);
            assertThat(p.lines).noneMatch(l -> l.startsWith("hello"));
            assertThat(p.errLines).containsExactly(
                    "revenant: agent start-up failed: unknown agent key 'lgo' (known: log, strict, commit, diskfull, exclude, role, force, disable, jmx, stop, hold, schedule, preempt, check)");
        }
    }

    @Test
    void unusableLogDirectoryStopsStartUp() throws Exception {
        Path file = Files.writeString(tmp.resolve("a-file"), "not a directory");
        try (JavaProcess p = greeter("log=" + file)) {
            assertThat(p.waitForExit(120)).isEqualTo(2);
            assertThat(p.errLines).hasSize(1);
            assertThat(p.errLines.get(0)).startsWith("revenant: agent start-up failed:").contains("not a directory");
        }
    }

    @Test
    void strictFalseRunsTheAppUnrecordedAndSaysSo() throws Exception {
        Path file = Files.writeString(tmp.resolve("a-file"), "not a directory");
        try (JavaProcess p = greeter("strict=false,log=" + file)) {
            assertThat(p.waitForExit(120)).isZero();
            assertThat(p.lines).anyMatch(l -> l.startsWith("hello, Ada"));
            assertThat(p.errLines).anyMatch(l -> l.contains("WARNING") && l.contains("running WITHOUT recording"));
        }
    }

    @Test
    void secondProcessOnTheSameLogIsRefused() throws Exception {
        Path log = tmp.resolve("shared");
        Files.createDirectories(log);
        try (JavaProcess holder = JavaProcess.start(Map.of(), StressWriter.class, log.toString(), "1", "every=1000")) {
            holder.await(l -> l.startsWith("READY"), 60);
            try (JavaProcess p = greeter("log=" + log)) {
                assertThat(p.waitForExit(120)).isEqualTo(2);
                assertThat(p.errLines).anyMatch(l -> l.startsWith("revenant: agent start-up failed:")
                        && l.contains("already being written by another writer (pid " + holder.process.pid() + ")"));
            }
            // The log opens on its own thread while the instrumentation goes in: when the opening
            // fails and strict=false lets the app run, the instrumentation is taken out again and
            // nothing else is said.
            try (JavaProcess p = greeter("strict=false,log=" + log)) {
                assertThat(p.waitForExit(120)).isZero();
                assertThat(p.lines).anyMatch(l -> l.startsWith("hello, Ada"));
                assertThat(p.errLines).singleElement().satisfies(l -> assertThat(l)
                        .contains("WARNING").contains("already being written").contains("running WITHOUT recording"));
            }
        }
    }

    @Test
    void aLogThatFailsToOpenAfterMainBeganStopsTheAppWithExit2() throws Exception {
        // With commit=pessimistic, main runs while Chronicle opens the queue. A queue that then
        // fails to open (here: its metadata file overwritten with noise, which the checks before
        // main do not read) must stop the app with exit 2 and say why. A test hook holds the
        // opening back, so that main has certainly run (and returned: JVM shutdown then waits
        // for the log) before it fails. Sockets cannot answer meanwhile: binds and replies wait
        // for the log (KvRecoveryIT and the commit tests cover those).
        Path log = tmp.resolve("log");
        try (JavaProcess p = greeter("log=" + log)) {
            assertThat(p.waitForExit(120)).as(String.join("\n", p.errLines)).isZero();
        }
        byte[] noise = new byte[20_000];
        new java.util.Random(7).nextBytes(noise);
        Files.write(log.resolve("metadata.cq4t"), noise);
        List<String> cmd = List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log,
                "-cp", demoJar().toString(), "dev.revenant.demo.Greeter", "Ada");
        try (JavaProcess p = JavaProcess.start(Map.of("REVENANT_TEST_DELAY_QUEUE_OPEN", "2000"), cmd)) {
            assertThat(p.waitForExit(60)).as(String.join("\n", p.errLines)).isEqualTo(2);
            assertThat(p.lines).as("main ran before the log failed").anyMatch(l -> l.startsWith("hello, Ada"));
            assertThat(p.errLines).anyMatch(l -> l.startsWith("revenant: agent start-up failed: the log " + log)
                    && l.contains("metadata.cq4t") && l.contains("the app is stopped (exit 2)"));
        }
    }

    @Test
    void anAppThatExitsBeforeItsLogOpenedLeavesASoundLog() throws Exception {
        // JVM shutdown waits for a log that is still opening (Chronicle cannot initialise once
        // shutdown began): the app's exit code stays its own and the log holds its run.
        Path log = tmp.resolve("log");
        List<String> cmd = List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log,
                "-cp", demoJar().toString(), "dev.revenant.demo.Greeter", "Ada");
        try (JavaProcess p = JavaProcess.start(Map.of("REVENANT_TEST_DELAY_QUEUE_OPEN", "1500"), cmd)) {
            assertThat(p.waitForExit(60)).as(String.join("\n", p.errLines)).isZero();
            // (JDK 25 prints its sun.misc.Unsafe warning for Chronicle; the agent says nothing)
            assertThat(p.errLines).noneMatch(l -> l.startsWith("revenant") || l.contains("Exception"));
        }
        Cli.Result r = Cli.run("verify", "--log", log.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        Cli.Result replay = Cli.run("replay", "--log", log.toString(), "--", JavaProcess.javaBin(), "-cp",
                demoJar().toString(), "dev.revenant.demo.Greeter", "Ada");
        assertThat(replay.exit()).as(replay.out() + replay.err()).isZero();
        assertThat(replay.out()).contains("hello, Ada");
    }

    @Test
    void recoverStartsAfreshWhenTheProcessDiedBeforeItsLogWasDurable() throws Exception {
        // Killed while the queue was still opening (held back by a test hook): the directory has
        // the writer's lock and nothing else of use. The process had answered nothing, so
        // recover starts the service afresh instead of calling the directory "not a log".
        Path log = tmp.resolve("log");
        List<String> record = List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log,
                "-cp", demoJar().toString(), "dev.revenant.demo.KvServer", "0");
        try (JavaProcess p = JavaProcess.start(Map.of("REVENANT_TEST_DELAY_QUEUE_OPEN", "20000"), record)) {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
            while (!Files.exists(log.resolve("writer.lock")) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(log.resolve("writer.lock")).exists();
            assertThat(p.lines).noneMatch(l -> l.startsWith("kv listening on"));
            p.kill9();
        }
        Cli.Result verify = Cli.run("verify", "--log", log.toString());
        assertThat(verify.exit()).as("nothing durable: not a log yet").isEqualTo(2);
        List<String> recover = List.of(JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "recover", "--log",
                log.toString(), "--json", "--", JavaProcess.javaBin(), "-cp", demoJar().toString(),
                "dev.revenant.demo.KvServer", "0");
        try (JavaProcess r = JavaProcess.start(Map.of(), recover)) {
            String summary = r.await(l -> l.startsWith("{"), 60);
            Map<String, Object> json = MiniJson.object(summary);
            assertThat(json).containsEntry("fresh", true).containsEntry("replayed", 0L);
            String listening = r.await(l -> l.startsWith("kv listening on "), 60);
            int port = Integer.parseInt(listening.substring("kv listening on ".length()).trim());
            try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                s.setSoTimeout(30_000);
                s.getOutputStream().write("SET k v\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                String reply = new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(),
                        java.nio.charset.StandardCharsets.US_ASCII)).readLine();
                assertThat(reply).startsWith("OK ");
            }
            ProcessHandle.of(((Number) json.get("pid")).longValue()).ifPresent(ProcessHandle::destroyForcibly);
        }
        Cli.Result after = Cli.run("verify", "--log", log.toString());
        assertThat(after.exit()).as(after.out() + after.err()).isZero();
    }
}
