package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The app fingerprint as a new user meets it: {@code java -javaagent:revenant-agent.jar -cp . App}
 * in the folder that holds the classes puts the default log ({@code ./revenant-log}) on the class
 * path, and the app writes its own files there; replay and recover must accept that log, from a
 * relative or an absolute class path, and still refuse a changed class or other identity-hash flags.
 */
class FingerprintIT {
    static final Map<String, String> ENV = Map.of("REVENANT_NO_PROGRESS", "1");
    static final String APP = """
            import java.nio.file.*;
            public class Notes {
                public static void main(String[] a) throws Exception {
                    long t = System.nanoTime();
                    int r = new java.util.Random().nextInt(1000);
                    Files.writeString(Path.of("notes-" + (t % 1000) + ".txt"), "note " + r + "\\n");
                    Files.writeString(Path.of("app.pid"), Long.toString(ProcessHandle.current().pid()));
                    System.out.println("WORD " + r);
                }
            }
            """;

    @TempDir
    Path tmp;
    Path classes;

    @BeforeEach
    void recordInTheClassFolder() throws Exception {
        classes = tmp.resolve("classes");
        Cli.compileApp(classes, "Notes", APP.replace("WORD", "noted"));
        Run rec = java(classes, List.of("-javaagent:" + Cli.agentJar(), "-cp", ".", "Notes"));
        assertThat(rec.exit).as("record: %s", rec.err).isZero();
        assertThat(rec.out).startsWith("noted ");
        assertThat(classes.resolve("revenant-log")).isDirectory();
        assertThat(classes.resolve("app.pid")).isRegularFile();
        recorded = rec.out;
    }

    String recorded;

    @Test
    void replayAcceptsTheDefaultLogInsideTheClassFolderAndTheFilesTheAppWrote() throws Exception {
        Run replay = agentCli(classes, "replay", "--log", "revenant-log", "--", "java", "-cp", ".", "Notes");
        assertThat(replay.exit).as("replay: %s", replay.err).isZero();
        assertThat(replay.err).doesNotContain("another build");
        assertThat(replay.out).isEqualTo(recorded);
    }

    @Test
    void anAbsoluteClassPathToTheSameFolderIsTheSameApp() throws Exception {
        Run replay = agentCli(tmp, "replay", "--log", classes.resolve("revenant-log").toString(), "--", "java", "-cp",
                classes.toAbsolutePath().toString(), "Notes");
        assertThat(replay.exit).as("replay: %s", replay.err).isZero();
        assertThat(replay.out).isEqualTo(recorded);
    }

    @Test
    void recoverAcceptsIt() throws Exception {
        Run recover = agentCli(classes, "recover", "--log", "revenant-log", "--", "java", "-cp", ".", "Notes");
        assertThat(recover.exit).as("recover: %s", recover.err).isZero();
        assertThat(recover.err).contains("live again").doesNotContain("another build");
    }

    @Test
    void aChangedClassIsRefused() throws Exception {
        Cli.compileApp(classes, "Notes", APP.replace("WORD", "changed"));
        Run replay = agentCli(classes, "replay", "--log", "revenant-log", "--", "java", "-cp", ".", "Notes");
        assertThat(replay.exit).isEqualTo(1);
        assertThat(replay.err).contains("recorded by another build of the app").contains("class path content");
        assertThat(replay.out).isEmpty();
    }

    @Test
    void otherIdentityHashFlagsAreRefusedByName() throws Exception {
        Run replay = agentCli(classes, "replay", "--log", "revenant-log", "--", "java", "-XX:+UseSerialGC", "-cp", ".",
                "Notes");
        assertThat(replay.exit).isEqualTo(1);
        assertThat(replay.err).contains("recorded by another build of the app").contains("-XX:+UseSerialGC");
        assertThat(replay.out).isEmpty();
    }

    record Run(int exit, String out, String err) {}

    private Run agentCli(Path dir, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("-jar", Cli.agentJar().toString()));
        cmd.addAll(List.of(args));
        // the app command's "java" is this JVM's, so that record and replay run the same one
        int java = cmd.indexOf("java");
        cmd.set(java, JavaProcess.javaBin());
        return java(dir, cmd);
    }

    private static Run java(Path dir, List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin()));
        cmd.addAll(args);
        try (JavaProcess p = JavaProcess.start(ENV, dir, cmd)) {
            int exit = p.waitForExit(120);
            return new Run(exit, String.join("\n", p.lines), String.join("\n", p.errLines));
        }
    }

}
