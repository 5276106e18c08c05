package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code check=stamps}, the debugging mode that logs each thread's identity-hash stamp counter and
 * tick beside every determinant. The app below hashes one object more when a file exists: file
 * reads are not in the log yet (issue 15), so a replay started beside that file shifts every later
 * identity hash of {@code main} by one, and a {@code HashSet} of 60 objects then iterates in another
 * order. Without the mode that replay exits 0 and prints another order (nothing it asks of the log
 * changes kind); with it, replay stops with exit 3 at the very next determinant and says why.
 */
class StampCheckIT {
    static final Map<String, String> ENV = Map.of("REVENANT_NO_PROGRESS", "1");
    static final String APP = """
            import java.nio.file.*;
            import java.util.*;
            public class Shift {
                static final class Item {
                    final int n;
                    Item(int n) { this.n = n; }
                    public String toString() { return Integer.toString(n); }
                }
                public static void main(String[] a) throws Exception {
                    long t0 = System.nanoTime();
                    if (Files.exists(Path.of("extra-hash"))) {
                        System.identityHashCode(new Object());
                    }
                    long t1 = System.nanoTime();
                    Set<Item> s = new HashSet<>();
                    for (int i = 0; i < 60; i++) {
                        s.add(new Item(i));
                    }
                    long t2 = System.nanoTime();
                    StringBuilder b = new StringBuilder("order");
                    for (Item it : s) {
                        b.append(' ').append(it);
                    }
                    System.out.println(b);
                    System.out.println("clock moved " + (t2 >= t1 && t1 >= t0));
                }
            }
            """;

    @TempDir
    Path tmp;
    Path dir;

    @BeforeEach
    void compile() throws Exception {
        dir = tmp.resolve("app");
        Cli.compileApp(dir, "Shift", APP);
    }

    @Test
    void aHashInOneRunOnlyIsReportedAtTheNextDeterminant() throws Exception {
        Run rec = java(List.of("-javaagent:" + Cli.agentJar() + "=log=checked,check=stamps", "-cp", ".", "Shift"));
        assertThat(rec.exit).as("record: %s", rec.err).isZero();
        assertThat(rec.out).startsWith("order ").endsWith("clock moved true");

        Run same = replay("checked");
        assertThat(same.exit).as("replay of the same run: %s", same.err).isZero();
        assertThat(same.out).isEqualTo(rec.out);
        assertThat(same.err).doesNotContain("check=stamps");

        Files.writeString(dir.resolve("extra-hash"), "");
        Run shifted = replay("checked");
        assertThat(shifted.exit).as("replay with one more hash: %s", shifted.err).isEqualTo(3);
        assertThat(shifted.err).contains("replay diverged at log position")
                .contains("stamped 0 identity hashes when recorded and 1 here")
                .contains("after its previous determinant (sequence 0)");
        assertThat(shifted.out).as("it stopped before the set was built and printed").doesNotContain("order");
    }

    @Test
    void withoutTheModeTheSameShiftGoesUnseen() throws Exception {
        Run rec = java(List.of("-javaagent:" + Cli.agentJar() + "=log=plain", "-cp", ".", "Shift"));
        assertThat(rec.exit).as("record: %s", rec.err).isZero();
        Files.writeString(dir.resolve("extra-hash"), "");
        Run shifted = replay("plain");
        assertThat(shifted.exit).as("no determinant changes kind: %s", shifted.err).isZero();
        assertThat(shifted.out).as("the set iterates in another order").isNotEqualTo(rec.out)
                .endsWith("clock moved true");
    }

    private Run replay(String log) throws Exception {
        return java(List.of("-jar", Cli.agentJar().toString(), "replay", "--log", log, "--", JavaProcess.javaBin(),
                "-cp", ".", "Shift"));
    }

    record Run(int exit, String out, String err) {}

    private Run java(List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin()));
        cmd.addAll(args);
        try (JavaProcess p = JavaProcess.start(ENV, dir, cmd)) {
            int exit = p.waitForExit(120);
            return new Run(exit, String.join("\n", p.lines), String.join("\n", p.errLines));
        }
    }
}
