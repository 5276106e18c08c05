package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The cycle the multi-client recovery tests share, {@code cycles} times in one log: concurrent
 * clients until a seeded random number of answers more, a few milliseconds more, SIGKILL; {@code
 * revenant recover}; the app's own check of its state; 100 answers more from new clients on the
 * recovered process; the check again; and {@code recover} said "live" once, after the whole log.
 */
final class KillRecoverCycles {
    /** Runs the app's clients (with {@code tag} in what they send, new each phase) until {@code until} returns. */
    interface Load {
        void run(String tag, Runnable until) throws Exception;
    }

    /** What the app's state says against what the clients were told; empty: all is well. */
    interface Check {
        List<String> problems() throws Exception;
    }

    /** The app under test, as far as the cycle needs it; {@code current} is the process to kill last. */
    static final class App {
        final String name;
        final Path log;
        final int port;
        final List<String> server;
        final AtomicLong answers;
        KvRecoveryIT.Server current;
        /** A recovery may stop with a divergence report instead (a known gap); the cycles end there. */
        boolean refusalAllowed;
        /** Cycles that ended so. */
        int refused;

        App(String name, Path log, int port, List<String> server, AtomicLong answers, KvRecoveryIT.Server first) {
            this.name = name;
            this.log = log;
            this.port = port;
            this.server = server;
            this.answers = answers;
            this.current = first;
        }
    }

    private KillRecoverCycles() {}

    /** The test's seed, from {@code -Drevenant.it.seed} or the clock, said so that a failure can be repeated. */
    static long seed(String name) {
        long seed = Long.getLong("revenant.it.seed", System.nanoTime());
        System.out.println(name + ": seed " + seed + " (-Drevenant.it.seed=" + seed + " repeats it)");
        return seed;
    }

    /**
     * Starts demo-apps' {@code mainClass} on a free port under the agent, its log in {@code tmp/name},
     * and waits for the line {@code ready <port>} it prints once it listens.
     */
    static App startDemo(String name, Path tmp, String mainClass, String ready, AtomicLong answers) throws Exception {
        Path log = java.nio.file.Files.createDirectories(tmp.resolve(name));
        List<String> server = ThreadedKvRecoveryIT.serverCommand(mainClass);
        List<String> cmd = new java.util.ArrayList<>(List.of(JavaProcess.javaBin(),
                "-javaagent:" + Cli.agentJar() + "=log=" + log));
        cmd.addAll(server.subList(1, server.size()));
        JavaProcess first = JavaProcess.start(java.util.Map.of("REVENANT_NO_PROGRESS", "1"), cmd);
        String line = first.await(x -> x.startsWith(ready), 60);
        int port = Integer.parseInt(line.substring(ready.length()).trim());
        return new App(name, log, port, server, answers, new KvRecoveryIT.Server(first, first.process.pid(), port));
    }

    /**
     * The cycles; kills the last process whatever happens. The kill comes after {@code least} plus a
     * random share of {@code spread} more answers.
     */
    static void run(App app, int cycles, long seed, Random rnd, int least, int spread, Load load, Check check)
            throws Exception {
        try {
            for (int cycle = 0; cycle < cycles; cycle++) {
                KvRecoveryIT.Server victim = app.current;
                long killAfter = app.answers.get() + least + rnd.nextInt(spread);
                long extraMillis = rnd.nextInt(50);
                load.run("r" + cycle, () -> {
                    try {
                        awaitAnswers(app.answers, killAfter, 60);
                        Thread.sleep(extraMillis);
                        KvRecoveryIT.kill(victim);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                assertThat(app.answers.get()).as("answers before the kill (seed " + seed + ")").isGreaterThanOrEqualTo(killAfter);
                System.out.printf("%s cycle %d: killed after %d answers%n", app.name, cycle, app.answers.get());
                KvRecoveryIT.Server next = ThreadedKvRecoveryIT.recover(app.log, app.port, app.server, cycle + 1,
                        app.refusalAllowed);
                if (next == null) {
                    app.refused++;
                    System.out.printf("%s cycle %d: recover stopped with a divergence report; no more cycles%n", app.name, cycle);
                    return;
                }
                app.current = next;
                assertThat(check.problems()).as("cycle %d (seed %d): %s after recovery", cycle, seed, app.name).isEmpty();
                long before = app.answers.get();
                load.run("n" + cycle, () -> {
                    try {
                        awaitAnswers(app.answers, before + 100, 30);
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                });
                assertThat(app.answers.get()).as("the recovered %s serves new clients (seed %d)", app.name, seed)
                        .isGreaterThanOrEqualTo(before + 100);
                assertThat(check.problems()).as("after new requests on the recovered %s", app.name).isEmpty();
                assertThat(ThreadedKvRecoveryIT.count(app.current.proc().errLines, "live"))
                        .as("recover said live once: " + app.current.proc().errLines).isEqualTo(1);
            }
        } finally {
            KvRecoveryIT.kill(app.current);
        }
    }

    /** Until {@code answers} reaches {@code target}, or {@code seconds} have passed (the caller's assertion says which). */
    private static void awaitAnswers(AtomicLong answers, long target, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (answers.get() < target && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
    }
}
