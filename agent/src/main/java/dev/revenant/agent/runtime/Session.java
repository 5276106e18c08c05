package dev.revenant.agent.runtime;

import java.io.IOException;
import java.lang.instrument.Instrumentation;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import dev.revenant.agent.config.AgentConfig;
import dev.revenant.agent.instrument.Instrumenter;
import dev.revenant.agent.runtime.schedule.SerialScheduler;
import dev.revenant.bridge.Hooks;
import dev.revenant.bridge.IdentityHashes;
import dev.revenant.bridge.Preempt;
import dev.revenant.bridge.Sched;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.AppFingerprint;
import dev.revenant.log.LogHeader;
import dev.revenant.log.LogReader;
import dev.revenant.log.LogRecord;
import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;

/**
 * One run of the agent in its role. Record: opens the log (a writer session: header with the app
 * fingerprint), records the start-up environment durably, installs the instrumentation and the
 * {@link Recorder}. Replay: checks the fingerprint, shows the app the recorded environment,
 * installs the same instrumentation and the {@link Replayer}, which feeds every determinant back
 * in order. Both do the same per-thread work on the main thread, so the app starts the same way.
 */
final class Session {
    private Session() {}

    /**
     * JDK classes whose static initialisers read clocks or seeds, and which the agent's own code
     * initialises in one role and not the other (Chronicle uses ThreadLocalRandom when recording).
     * Initialised in both roles before the hooks are live, so the app never sees their
     * initialisers as its own determinants.
     */
    private static final String[] PREINITIALISED = {
        "java.util.concurrent.ThreadLocalRandom", "java.util.Random", "java.security.SecureRandom",
        "java.time.Clock", "java.time.Instant", "java.util.Date", "java.util.UUID",
    };

    static void start(AgentConfig config, Instrumentation inst, StartupPhases phases) throws Exception {
        // Record: the log opens on its own thread while this one instruments (see LogOpening;
        // started before Thread.start is instrumented).
        LogOpening opening = "record".equals(config.role())
                ? LogOpening.start(config.log(), ThreadState.current().vid,
                        config.strict() && config.commit().equals("pessimistic"))
                : null;
        try {
            start(config, inst, phases, opening);
        } catch (Throwable t) {
            if (opening != null) {
                opening.abandon();
            }
            throw t;
        }
    }

    private static void start(AgentConfig config, Instrumentation inst, StartupPhases phases, LogOpening opening)
            throws Exception {
        // A selector rewritten before the socket runtime is installed still waits for real.
        dev.revenant.bridge.NetHooks.installLiveWait(NetJdk::liveEpollWait);
        for (String c : PREINITIALISED) {
            Class.forName(c, true, null);
        }
        // Lazily built JDK singletons the agent's libraries touch when recording (the default time
        // zone above all): built in both roles before the hooks are live, they never build on an
        // app thread in one role only, taking from its identity-hash sequence.
        java.util.TimeZone.getDefault();
        java.time.ZoneId.systemDefault();
        java.util.Locale.getDefault();
        java.nio.charset.Charset.defaultCharset();
        // The JDK's System.Logger front end (HttpServer logs through it) hands out surrogate loggers,
        // each hashed into a map on the calling thread, until java.util.logging's LogManager is up;
        // the agent's MBean registration brings it up on its own thread when recording, at a moment
        // that races with the app. Brought up here in both roles, the app never makes a surrogate
        // (check=stamps found this: HttpCounter's main stamped one hash more in recovery).
        java.util.logging.LogManager.getLogManager();
        phases.mark("JDK pre-init");
        Set<String> disabled = new HashSet<>(config.disable());
        if (!disabled.contains("hashes") && !IdentityHashes.install()) {
            AgentLog.warn("identity hashes cannot be made deterministic on this JVM (" + IdentityHashes.status()
                    + "): HashSet orders and identity hashes may differ in replay");
        }
        phases.mark("identity-hash self-test");
        stampSocketOptions();
        switch (config.role()) {
            case "record" -> record(config, opening, inst, disabled, phases);
            case "replay", "recover" -> replay(config, LogOpening.fingerprint(config.log()), inst, disabled, phases);
            default -> throw new AgentConfig.ConfigException("role=" + config.role() + " is not supported");
        }
        // Last thing before main: the main thread's hash sequence starts from its virtual id, the
        // same in both roles whatever the agent did on this thread before.
        IdentityHashes.setThreadKey(ThreadState.current().vid);
        phases.mark("hooks");
    }

    /**
     * Gives the JDK's socket option constants their identity hash now, in both roles, from the
     * agent's own sequence. They are looked up in hashed sets whenever an option is read or set —
     * the agent sets {@code SO_LINGER} on its stand-ins' ends when a recovery goes live, the JDK
     * reads it when the app closes a socket — so the first such lookup happened on an app thread in
     * one role only (a stand-in the app closes while replayed, whose option the live run had hashed
     * on going live) and moved that thread's stamps: its later selection keys came out of
     * {@code selectedKeys()} in another order and the replay parted from the log.
     */
    static void stampSocketOptions() {
        if (!IdentityHashes.enabled()) {
            return;
        }
        boolean was = IdentityHashes.pauseThread();
        try {
            for (java.lang.reflect.Field f : java.net.StandardSocketOptions.class.getFields()) {
                if (java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
                    IdentityHashes.stampIdentity(f.get(null));
                }
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            AgentLog.warn("socket options could not be given their identity hash early: " + e);
        } finally {
            IdentityHashes.resumeThread(was);
        }
    }

    private static void record(AgentConfig config, LogOpening opening, Instrumentation inst, Set<String> disabled,
                               StartupPhases phases) throws Exception {
        boolean serial = config.schedule().equals("serial");
        if (serial) {
            Preempt.every(config.preempt()); // before the instrumentation, which adds the points only if on
        }
        Instrumenter.Installed installed = Instrumenter.install(inst, config.exclude(), disabled, serial, phases);
        // The socket classes' transformation (ByteBuddy's first use) goes on while main starts.
        NetRuntime.prepareInBackground();
        // While the log is still opening: initialise what installing the recorder runs for the
        // first time (JdkAccess builds method handles for the ThreadLocalRandom fields), so that
        // less of it is left for after the wait.
        Class.forName("dev.revenant.bridge.JdkAccess", true, null);
        Class.forName(Recorder.class.getName(), true, Recorder.class.getClassLoader());
        Class.forName(DeterminantCodec.class.getName(), true, DeterminantCodec.class.getClassLoader());
        phases.mark("recorder classes");
        LogWriter w;
        try {
            w = opening.join();
        } catch (Throwable t) {
            // Not recording after all: take the instrumentation back out (strict=false runs the
            // app as if the agent were not there).
            installed.uninstall();
            throw t;
        }
        phases.mark("waiting for the log");
        phases.add(opening.early() ? "(in parallel: lock, tail, fingerprint, header queued; the queue opens on"
                + " while main runs" : "(in parallel: log open + environment record", opening.nanos());
        phases.note(")");
        AgentMain.setWriter(w);
        Run run = Run.recording(new Recorder(w, config.check().equals("stamps")));
        NetRuntime net = new NetRuntime(run, config.commit().equals("pessimistic"));
        LogHealth.watch(w, net, config.diskfull());
        dev.revenant.bridge.NetHooks.install(net);
        Hooks.install(run);
        if (serial) {
            ThreadState main = ThreadState.current();
            SerialScheduler s = SerialScheduler.recording(run::recordSwitch, main);
            run.schedule(s);
            // The opening mark: the log is one total order, main holds the token; its tick field
            // carries the preemption budget, which replay must count with too.
            run.recordSwitch(main, 0, Preempt.every());
            Sched.install(s);
        }
        Hooks.threadLocalRandomInit(); // the main thread's seed, if the JDK gave it one before us
        closeAtExit(w, net);
        if (config.jmx()) {
            AgentStatus.registerLater(config.role(), w.directory().toString(), run, net);
        }
    }

    /**
     * At exit: held output leaves (bounded wait), then the log closes. And before any shutdown
     * hook runs, everything appended so far is made stable (bounded): Chronicle's own shutdown
     * hooks run concurrently with ours, and a queue still opening (the log opens while {@code
     * main} runs) cannot even register them once shutdown has begun.
     */
    static void closeAtExit(LogWriter w, NetRuntime net) {
        Hooks.setShutdownGate(() -> {
            try {
                w.awaitStable(w.appendedPosition(), 10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (IOException | RuntimeException e) {
                // the log failed or closed: its own messages say so
            }
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                net.drainAll(5_000);
                w.close();
            } catch (Throwable t) {
                AgentLog.error("closing the log failed: " + t.getMessage());
            }
        }, "revenant-shutdown"));
    }

    private static void replay(AgentConfig config, AppFingerprint fp, Instrumentation inst, Set<String> disabled,
                               StartupPhases phases) throws Exception {
        boolean recover = config.role().equals("recover");
        LogReader reader = LogReader.open(config.log(), LogReader.Mode.STRICT);
        LogRecord first = reader.next();
        if (first == null || first.type() != RecordTypes.HEADER) {
            throw new IOException("log " + config.log() + " does not start with a session header");
        }
        LogHeader header = LogHeader.decode(first.payload());
        List<String> diff = header.fingerprint().differences(fp);
        if (!diff.isEmpty()) {
            String what = "the log was recorded by another build of the app: " + String.join("; ", diff);
            if (!config.force()) {
                AgentLog.error(what + ". " + (recover ? "Recovery" : "Replay") + " refused: it would diverge. Use "
                        + "--force to replay anyway and see where.");
                Runtime.getRuntime().halt(1);
            }
            AgentLog.warn(what + " (replaying anyway: --force)");
        }
        LogRecord env = reader.next();
        if (env == null || env.type() != RecordTypes.ENVIRONMENT) {
            throw new IOException("log " + config.log() + " has no start-up environment after its header");
        }
        EnvironmentSnapshot recorded = EnvironmentSnapshot.decode(env.payload());
        List<String> envDiff = recorded.differences(EnvironmentSnapshot.live());
        if (!envDiff.isEmpty()) {
            AgentLog.warn("the start-up environment differs from the recorded one in " + envDiff.size() + " place(s) ("
                    + String.join(", ", envDiff.subList(0, Math.min(5, envDiff.size())))
                    + (envDiff.size() > 5 ? ", ..." : "") + "); the app sees the recorded values");
        }
        recorded.apply();
        ThreadState.current(); // same per-thread work as in record mode
        long started = System.nanoTime();
        Recovery recovery = recover ? new Recovery(config, fp, started) : null;
        Replayer[] self = new Replayer[1];
        Replayer replayer = new Replayer(reader, Long.MAX_VALUE, (n, last) -> {
            if (recovery != null) {
                recovery.logEnded(n, last);
                return;
            }
            if (self[0].serial()) {
                // Every position replayed; the thread holding the token runs on until it needs
                // what the recorded run never got (Run.beyondEnd) or the program ends.
                return;
            }
            System.out.flush();
            AgentLog.info("replay reached the end of the log after " + n + " determinants (position " + last
                    + "): the recorded run got this far");
            Runtime.getRuntime().halt(0);
        }, recovery == null ? (n, p) -> { } : recovery::progress);
        self[0] = replayer;
        phases.mark("log read");
        Run run = Run.replaying(replayer, recovery);
        if (replayer.serial()) {
            Preempt.every(replayer.preemptEvery());
            SerialScheduler s = SerialScheduler.replaying(replayer, run::recordSwitch, ThreadState.current());
            replayer.scheduler(s);
            run.schedule(s);
            Sched.install(s);
        }
        NetRuntime.prepareJdk();
        StopPoint stop = config.stop() >= 0 ? new StopPoint(config.stop(), config.hold()) : null;
        run.stopAt(stop);
        NetRuntime net = new NetRuntime(run, config.commit().equals("pessimistic"));
        if (recovery != null) {
            recovery.attach(run, net);
            Console.suppress();
        }
        dev.revenant.bridge.NetHooks.install(net);
        Instrumenter.install(inst, config.exclude(), disabled, replayer.serial(), phases);
        Hooks.install(run);
        Hooks.threadLocalRandomInit();
        if (recovery == null) {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> AgentLog.info(stop != null && stop.reached()
                    ? "replay held at position " + stop.position() + " ended by a signal after " + replayer.replayed()
                            + " determinants"
                    : "replay ended with the program's own exit after " + replayer.replayed() + " determinants"),
                    "revenant-shutdown"));
        }
        if (config.jmx()) {
            AgentStatus.registerLater(config.role(), config.log().toString(), run, net);
        }
    }
}
