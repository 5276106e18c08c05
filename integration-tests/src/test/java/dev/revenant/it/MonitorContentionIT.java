package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The serial scheduler must never hang an app. Threads that sleep inside a {@code synchronized}
 * block the others also enter are its hard case: the sleeper gives the run token up while it holds
 * the monitor, the next holder blocks entering that monitor (the JVM, not the scheduler, decides),
 * and the sleeper then waits for the token. The scheduler sees the holder stuck on a monitor
 * ({@code ThreadMXBean}) and takes the token from it, logging the switch. The recording must finish
 * with the right total every time. Replay of such a log is exact, or — where who gets the monitor
 * next raced — stops with the divergence report (exit 3); it never hangs and never exits 0 with
 * other output.
 */
@Tag("scheduler")
class MonitorContentionIT {
    static final int RUNS = Integer.getInteger("revenant.it.monitorRuns", 4);
    static final String APP = """
            public class Contended {
                static final Object lock = new Object();
                static int n;
                public static void main(String[] a) throws Exception {
                    Thread[] ts = new Thread[3];
                    for (int i = 0; i < ts.length; i++) {
                        ts[i] = new Thread(() -> {
                            for (int k = 0; k < 5; k++) {
                                synchronized (lock) {
                                    try { Thread.sleep(3); } catch (InterruptedException e) { return; }
                                    n++;
                                }
                            }
                        }, "worker-" + i);
                        ts[i].start();
                    }
                    for (Thread t : ts) t.join();
                    System.out.println("n=" + n + " at " + (System.nanoTime() % 1000));
                }
            }
            """;

    @TempDir
    Path tmp;

    @Test
    void sleepingInsideAContendedMonitorNeverHangsAndReplayIsExactOrLoud() throws Exception {
        Path classes = tmp.resolve("classes");
        Cli.compileApp(classes, "Contended", APP);
        int exact = 0;
        for (int run = 0; run < RUNS; run++) {
            Path log = tmp.resolve("log-" + run);
            DeterminismIT.Run rec = DeterminismIT.run(Map.of(), List.of(JavaProcess.javaBin(),
                    "-javaagent:" + Cli.agentJar() + "=log=" + log, "-cp", classes.toString(), "Contended"));
            assertThat(rec.exit()).as("record %d: %s", run, rec.err()).isZero();
            assertThat(rec.out()).singleElement().asString().startsWith("n=15 ");
            DeterminismIT.Run replay = DeterminismIT.run(Map.of("REVENANT_NO_PROGRESS", "1"), List.of(
                    JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "replay", "--log", log.toString(), "--",
                    JavaProcess.javaBin(), "-cp", classes.toString(), "Contended"));
            if (replay.exit() == 0) {
                assertThat(replay.out()).as("replay %d exited 0, so it must print what the recording did", run)
                        .isEqualTo(rec.out());
                exact++;
            } else {
                assertThat(replay.exit()).as("replay %d: %s", run, replay.err()).isEqualTo(3);
                assertThat(String.join("\n", replay.err())).contains("replay diverged").contains("synchronized");
            }
        }
        System.out.printf("monitor contention: %d of %d replays exact, the rest reported their divergence%n", exact,
                RUNS);
    }
}
