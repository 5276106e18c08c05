package dev.revenant.agent.runtime;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

import dev.revenant.log.AppFingerprint;
import dev.revenant.log.LogOptions;
import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;

/**
 * Record mode's log work before {@code main}, on its own thread ({@code revenant-log-open}) while
 * premain's thread installs the instrumentation: {@link LogWriter#open} (directory checks, the
 * writer lock, the previous session's tail, the header with the app fingerprint) and the start-up
 * environment record. Almost all of the time is the first use of Chronicle (class loading and
 * initialisation, ~170–240 ms on two cores; a second open in the same JVM takes ~15 ms), which
 * needs nothing the instrumentation does, and vice versa.
 *
 * <p>Premain {@link #join}s it before the recorder is installed. What the join waits for depends
 * on the mode ({@link #start}):
 * <ul>
 * <li><b>early</b> ({@code commit=pessimistic} with {@code strict=true}, the defaults): only
 * until the header is in the writer's ring — the lock is held and every refusal a user can cause
 * (a second writer, a damaged or foreign log, an unusable directory) has been said. Chronicle goes
 * on opening on the writer thread while {@code main} runs; the app's determinants queue in the
 * ring behind the header. Nothing the app sends can leave before its determinants are stable,
 * which they cannot be before the header is, so no reply ever depends on a log that might not
 * open. If the queue then fails to open, the app is stopped with exit code 2, as premain would
 * have stopped it.</li>
 * <li><b>durable</b> (otherwise): until the header and the environment record are on disk, as
 * {@code commit=none} releases output at once and {@code strict=false} must still be able to run
 * the app unrecorded if the log does not open.</li>
 * </ul>
 *
 * <p>It must be started before {@code Thread.start} is instrumented: a thread started by the
 * main thread afterwards would count as main's child and shift the virtual ids of the app's own
 * threads, which replay (that starts no such thread) would not see.
 */
final class LogOpening {
    private final FutureTask<LogWriter> task;
    private final Thread thread;
    private final boolean early;
    private volatile long nanos;

    private LogOpening(Path log, long mainVid, boolean early) {
        this.early = early;
        this.task = new FutureTask<>(() -> {
            long t0 = System.nanoTime();
            try {
                return open(log, mainVid);
            } finally {
                nanos = System.nanoTime() - t0;
            }
        });
        this.thread = new Thread(task, "revenant-log-open");
        thread.setDaemon(true);
    }

    /**
     * Starts opening {@code log}; the environment record is written under {@code mainVid}.
     * {@code early}: {@link #join} returns before the log is durable (see the class comment).
     */
    static LogOpening start(Path log, long mainVid, boolean early) {
        LogOpening o = new LogOpening(log, mainVid, early);
        o.thread.start();
        return o;
    }

    private LogWriter open(Path log, long mainVid) throws Exception {
        long launched = System.nanoTime();
        // The fingerprint is hashed while the writer thread opens the queue.
        LogWriter w = LogWriter.open(log, new LogOptions().fingerprintFrom(() -> fingerprint(log))
                .awaitHeader(!early));
        try {
            long p = w.append(RecordTypes.ENVIRONMENT, mainVid, 0, EnvironmentSnapshot.live().encode());
            if (!early) {
                w.awaitStable(p);
                return w;
            }
            if (p < 0) {
                throw w.failure() != null ? w.failure() : new IOException("log " + log + " refused the first record");
            }
            // An app that exits before the queue has opened: JVM shutdown waits for the log
            // (Session.closeAtExit's gate).
            w.onStable(p, new LogWriter.StableListener() {
                @Override
                public void stable(long position) {
                    if (StartupPhases.debug()) {
                        AgentLog.info(String.format(java.util.Locale.ROOT, "startup: log durable wallMillis=%d "
                                + "(header and environment record forced %.1f ms after the opening began)",
                                System.currentTimeMillis(), (System.nanoTime() - launched) / 1e6));
                    }
                }

                @Override
                public void failed(long position, IOException cause) {
                    if (w.isClosing() && w.failure() == null) {
                        return; // the app exited before the log was durable: close() reports that
                    }
                    openingFailed(log, cause);
                }
            });
            return w;
        } catch (Throwable t) {
            try {
                w.close();
            } catch (Throwable suppressed) {
                t.addSuppressed(suppressed);
            }
            throw t;
        }
    }

    /**
     * The queue did not open (or the first force failed) after {@code main} began: the app cannot
     * be recorded. Held output never left, so stopping now loses no answer the app gave; going on
     * would run it unrecorded behind the user's back. Called on the writer thread.
     */
    private static void openingFailed(Path log, IOException cause) {
        try {
            AgentLog.error("agent start-up failed: the log " + log + " could not be opened for writing: "
                    + cause.getMessage() + " — the app is stopped (exit 2); no reply it produced left the process");
        } finally {
            Runtime.getRuntime().halt(2);
        }
    }

    /**
     * The running app's fingerprint: main class (or {@code -jar} file name), what the JVM can load
     * from the class and module path (the log folder {@code log} never counts, even when it lies
     * inside a class-path folder), the JVM flags that decide identity hashes, the agent version.
     */
    static AppFingerprint fingerprint(Path log) throws java.io.IOException {
        String command = System.getProperty("sun.java.command", "?");
        String main = command.split(" ")[0];
        String version = AgentMain.class.getPackage().getImplementationVersion();
        java.util.List<String> args = java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments();
        return AppFingerprint.compute(main, System.getProperty("java.class.path"), System.getProperty("jdk.module.path"),
                log, args, version == null ? "dev" : version);
    }

    /** Waits for the log; throws what opening it threw (the message premain prints). */
    LogWriter join() throws Exception {
        try {
            return task.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof Exception x) {
                throw x;
            }
            if (c instanceof Error x) {
                throw x;
            }
            throw e;
        }
    }

    /** Whether {@link #join} returns before the log is durable. */
    boolean early() {
        return early;
    }

    /** How long the opening took on its thread (after {@link #join}). */
    long nanos() {
        return nanos;
    }

    /**
     * Start-up failed elsewhere: waits for the opening to end and closes the log if it opened, so
     * that no writer thread is left behind an app that runs unrecorded ({@code strict=false}).
     */
    void abandon() {
        try {
            LogWriter w = task.get();
            w.close();
        } catch (Throwable ignored) {
            // it failed itself, or cannot be closed: nothing more to do here
        }
    }
}
