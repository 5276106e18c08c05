package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The serial scheduler from the outside: demo-apps' Racy, whose threads race without
 * synchronization (lost updates on a shared int, check-then-act on a HashMap, pool tasks appending
 * to an ArrayList), is recorded under the agent and replayed with {@code revenant replay}; the
 * replay must print exactly the recorded lines, in the same order, and exit the same way. With
 * {@code schedule=none} the same comparison must fail now and then, which shows it can.
 *
 * <p>Two agent bugs found this way are fixed: a thread's first {@code ThreadLocalRandom} seed was
 * logged, and a string concatenation's call-site linking, racing with agent threads in a shared
 * ConcurrentHashMap, sometimes drew one (2 in 100 runs on JDK 17); and on JDK 21+ the pool's
 * workers, started with {@code Thread.start(ThreadContainer)}, were not scheduled.
 */
@Tag("scheduler")
class RacyReplayIT {
    /**
     * The issue asks for 100 runs; the suite runs 10 ({@code -Drevenant.it.racyRuns=100}, or
     * {@code -Plong}, for the full count: about 2 s a run).
     */
    static final int RUNS = Integer.getInteger("revenant.it.racyRuns", 10);

    @TempDir
    Path tmp;

    static List<String> app() {
        return List.of("-cp", AgentStartupIT.demoJar().toString(), "dev.revenant.demo.Racy");
    }

    static DeterminismIT.Run record(Path log, Map<String, String> env) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-javaagent:" + Cli.agentJar() + "=log=" + log));
        cmd.addAll(app());
        return DeterminismIT.run(env, cmd);
    }

    static DeterminismIT.Run replay(Path log, Map<String, String> env) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "replay",
                "--log", log.toString(), "--", JavaProcess.javaBin()));
        cmd.addAll(app());
        return DeterminismIT.run(env, cmd);
    }

    @Test
    void replayOfRacingThreadsPrintsExactlyWhatTheRecordingPrinted() throws Exception {
        List<String> mismatches = new ArrayList<>();
        for (int i = 0; i < RUNS; i++) {
            Path log = tmp.resolve("racy-" + i);
            DeterminismIT.Run rec = record(log, Map.of());
            assertThat(rec.exit()).as("recording %d: %s", i, String.join("\n", rec.err())).isZero();
            assertThat(rec.out()).as("recording %d printed every section", i).anyMatch(l -> l.startsWith("counter "))
                    .anyMatch(l -> l.startsWith("double claims ")).anyMatch(l -> l.startsWith("task 5 on "))
                    .contains("spin-lock count 900 of 900").last().asString().startsWith("racy done at ");
            DeterminismIT.Run rep = replay(log, Map.of());
            boolean same = rep.exit() == rec.exit() && rep.out().equals(rec.out());
            System.out.printf("racy run %d: %s (%s)%n", i, same ? "replay identical" : "REPLAY DIFFERS",
                    rec.out().stream().filter(l -> l.startsWith("counter ")).findFirst().orElse("?"));
            if (!same) {
                mismatches.add("run " + i + " (log " + log + "): replay exit " + rep.exit() + " vs " + rec.exit()
                        + "\n  recorded: " + rec.out() + "\n  replayed: " + rep.out() + "\n  replay stderr: "
                        + String.join("\n    ", rep.err()));
            }
        }
        assertThat(mismatches).as("%d of %d replays differ from their recording", mismatches.size(), RUNS).isEmpty();
    }

    @Test
    void withoutTheSchedulerTheRaceShows() throws Exception {
        // schedule=none: threads replay only their own determinants; who ran when is not in the log.
        Map<String, String> env = Map.of("REVENANT_SCHEDULE", "none");
        boolean differed = false;
        for (int i = 0; i < 5 && !differed; i++) {
            Path log = tmp.resolve("unscheduled-" + i);
            DeterminismIT.Run rec = record(log, env);
            assertThat(rec.exit()).as(String.join("\n", rec.err())).isZero();
            DeterminismIT.Run rep = replay(log, env);
            differed = rep.exit() != rec.exit() || !rep.out().equals(rec.out());
            if (differed) {
                // ... and says so: it never ends with 0 as if the recorded run had got only this far
                // (it did, while threads that still had determinants left were cut short)
                assertThat(rep.exit()).as("a replay that parted from its recording: %s", String.join("\n", rep.err()))
                        .isEqualTo(3);
                assertThat(String.join("\n", rep.err())).containsAnyOf("replay diverged at log position",
                        "replay cannot reach the end of the log");
            }
        }
        assertThat(differed).as("with schedule=none, some replay of the races must differ from its recording")
                .isTrue();
    }
}
