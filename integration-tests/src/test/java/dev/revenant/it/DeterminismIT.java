package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;


import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A program that prints clock readings, every kind of random number, UUIDs, SecureRandom bytes,
 * identity hashes and hash-set orders (demo-apps' Nondeterminism) is recorded under the agent and
 * replayed with {@code revenant replay}: the replay must print exactly what the recording printed.
 * With one category's recording switched off, that category must differ — so each part of the
 * comparison is shown able to fail.
 */
class DeterminismIT {
    static final int REPETITIONS = Integer.getInteger("revenant.it.determinismRuns", 20);

    @TempDir
    Path tmp;

    record Run(int exit, List<String> out, List<String> err) {}

    static Run run(Map<String, String> env, List<String> cmd) throws Exception {
        try (JavaProcess p = JavaProcess.start(env, cmd)) {
            int exit = p.waitForExit(180);
            return new Run(exit, List.copyOf(p.lines), List.copyOf(p.errLines));
        }
    }

    static List<String> app(String... args) {
        List<String> cmd = new ArrayList<>(List.of("-cp", AgentStartupIT.demoJar().toString(),
                "dev.revenant.demo.Nondeterminism"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    Run record(Path log, Map<String, String> env, List<String> app) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log));
        cmd.addAll(app);
        return run(env, cmd);
    }

    Run replay(Path log, Map<String, String> env, List<String> app, String... options) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "replay",
                "--log", log.toString()));
        cmd.addAll(List.of(options));
        cmd.add("--");
        cmd.add(JavaProcess.javaBin());
        cmd.addAll(app);
        return run(env, cmd);
    }

    static List<String> category(List<String> lines, String category) {
        return lines.stream().filter(l -> l.split(" ").length > 2 && l.split(" ")[2].equals(category)).toList();
    }

    @Test
    void replayPrintsExactlyWhatTheRecordingPrinted() throws Exception {
        for (int i = 0; i < REPETITIONS; i++) {
            Path log = tmp.resolve("log-" + i);
            List<String> app = app(Integer.toString(1 + i % 3));
            // Different start timing each time: the programs differ in how long they run.
            Run rec = record(log, Map.of(), app);
            assertThat(rec.exit()).as(String.join("\n", rec.err())).isZero();
            Run rep = replay(log, Map.of(), app);
            assertThat(rep.exit()).as(String.join("\n", rep.err())).isZero();
            assertThat(rep.out()).as("replay %d of %s", i, log).isEqualTo(rec.out());
            assertThat(category(rec.out(), "clock")).isNotEmpty();
            assertThat(category(rec.out(), "random")).isNotEmpty();
            assertThat(category(rec.out(), "hash")).isNotEmpty();
        }
    }

    @Test
    void eachCategoryNeedsItsRecording() throws Exception {
        for (String category : List.of("clocks", "random", "hashes")) {
            String tag = category.equals("clocks") ? "clock" : category.equals("hashes") ? "hash" : "random";
            Map<String, String> env = new HashMap<>(Map.of("REVENANT_DISABLE", category));
            Path log = tmp.resolve("off-" + category);
            List<String> app = app("2");
            Run rec = record(log, env, app);
            assertThat(rec.exit()).as(String.join("\n", rec.err())).isZero();
            Run rep = replay(log, env, app);
            assertThat(category(rep.out(), tag)).as("with %s off, the %s lines must differ", category, tag)
                    .isNotEqualTo(category(rec.out(), tag));
        }
    }

    @Test
    void changedAppIsRefusedAndForceShowsTheDivergence() throws Exception {
        Path classes = tmp.resolve("app");
        compile(classes, "System.out.println(System.nanoTime()); System.out.println(new java.util.Random().nextInt());");
        Path jar = jar(classes, tmp.resolve("app.jar"));
        List<String> app = List.of("-cp", jar.toString(), "Tiny");
        Path log = tmp.resolve("log");
        Run rec = record(log, Map.of(), app);
        assertThat(rec.exit()).as(String.join("\n", rec.err())).isZero();

        // Same class path, other bytes: the order of the two reads is swapped.
        compile(classes, "System.out.println(new java.util.Random().nextInt()); System.out.println(System.nanoTime());");
        jar(classes, jar);
        Run refused = replay(log, Map.of(), app);
        assertThat(refused.exit()).isEqualTo(1);
        assertThat(String.join("\n", refused.err())).contains("recorded by another build of the app")
                .contains("class path content").contains("--force");
        assertThat(refused.out()).isEmpty();

        Run forced = replay(log, Map.of(), app, "--force");
        assertThat(forced.exit()).isEqualTo(3);
        String report = String.join("\n", forced.err());
        assertThat(report).contains("replay diverged at log position").contains("the log holds next: System.nanoTime")
                .contains("the program asked:  new Random() seed").contains("Tiny.main");
    }

    static void compile(Path dir, String body) throws Exception {
        Cli.compileApp(dir, "Tiny", "public class Tiny { public static void main(String[] a) { " + body + " } }");
    }

    static Path jar(Path classes, Path jar) throws Exception {
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
            out.putNextEntry(new JarEntry("Tiny.class"));
            out.write(Files.readAllBytes(classes.resolve("Tiny.class")));
            out.closeEntry();
        }
        return jar;
    }
}
