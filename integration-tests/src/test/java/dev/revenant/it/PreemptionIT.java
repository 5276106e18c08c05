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
 * Preemption at loop back-edges, from the outside: demo-apps' Spinners, whose threads wait for one
 * another by spinning without a blocking call or a spin hint (a flag, a compare-and-set lock held
 * across a sleep, long loops inside {@code synchronized} beside an unlocked counter), would hang
 * under one run token that moves only at blocking calls. Recorded under the agent it must finish;
 * replayed it must print exactly what the recording printed. One round records with
 * {@code check=stamps}, whose records carry each thread's tick beside every determinant, so the
 * replay compares the threads' counts of scheduling points (preemption points among them) at every
 * determinant, not only at the switches. And the thread that loops inside a monitor is never
 * preempted there: the log holds no switch taken from a thread stuck on a monitor.
 */
@Tag("scheduler")
class PreemptionIT {
    static final int RUNS = Integer.getInteger("revenant.it.preemptRuns", 6);

    @TempDir
    Path tmp;

    static List<String> app() {
        return List.of("-cp", AgentStartupIT.demoJar().toString(), "dev.revenant.demo.Spinners");
    }

    static DeterminismIT.Run record(Path log, String extra) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(),
                "-javaagent:" + Cli.agentJar() + "=log=" + log + extra));
        cmd.addAll(app());
        return DeterminismIT.run(Map.of(), cmd);
    }

    static DeterminismIT.Run replay(Path log) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JavaProcess.javaBin(), "-jar", Cli.agentJar().toString(), "replay",
                "--log", log.toString(), "--", JavaProcess.javaBin()));
        cmd.addAll(app());
        return DeterminismIT.run(Map.of("REVENANT_NO_PROGRESS", "1"), cmd);
    }

    @Test
    void spinningThreadsFinishAndReplayExactly() throws Exception {
        List<String> mismatches = new ArrayList<>();
        List<String> spins = new ArrayList<>();
        for (int i = 0; i < RUNS; i++) {
            Path log = tmp.resolve("spin-" + i);
            DeterminismIT.Run rec = record(log, i == 0 ? ",check=stamps" : "");
            assertThat(rec.exit()).as("recording %d: %s", i, String.join("\n", rec.err())).isZero();
            assertThat(rec.out()).as("recording %d printed every section", i)
                    .anyMatch(l -> l.startsWith("flag seen after "))
                    .contains("spin-lock count 90 of 90", "monitor count 1200000 of 1200000")
                    .last().asString().startsWith("spinners done at ");
            spins.add(rec.out().get(0));
            DeterminismIT.Run rep = replay(log);
            boolean same = rep.exit() == rec.exit() && rep.out().equals(rec.out());
            if (!same) {
                mismatches.add("run " + i + " (log " + log + "): replay exit " + rep.exit() + " vs " + rec.exit()
                        + "\n  recorded: " + rec.out() + "\n  replayed: " + rep.out() + "\n  replay stderr: "
                        + String.join("\n    ", rep.err()));
            }
            Cli.Result schedule = Cli.run("inspect", "--log", log.toString(), "--type", "SCHEDULE");
            assertThat(schedule.exit()).as(schedule.err()).isZero();
            assertThat(schedule.out()).as("run %d: the opening mark names the budget", i)
                    .contains("preemption every 65536 loop back-edges")
                    .doesNotContain("taken while it was stuck entering a monitor");
        }
        System.out.println("spinners: " + spins);
        assertThat(mismatches).as("%d of %d replays differ from their recording", mismatches.size(), RUNS).isEmpty();
    }
}
