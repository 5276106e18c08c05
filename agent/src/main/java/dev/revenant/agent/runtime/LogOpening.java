package dev.revenant.agent.runtime;

import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

import dev.revenant.log.AppFingerprint;
import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;

/**
 * Record mode's log work before {@code main}, on its own thread ({@code revenant-log-open}) while
 * premain's thread installs the instrumentation: {@link LogWriter#open} (header with the app
 * fingerprint, durable) and the start-up environment record, durable too. Almost all of it is the
 * first use of Chronicle (class loading and initialisation, ~170 ms on two cores; a second open
 * in the same JVM takes ~15 ms), which needs nothing the instrumentation does, and vice versa.
 * Premain {@link #join}s it before the recorder is installed, so {@code main} still starts with
 * the log open and both records on disk.
 *
 * <p>It must be started before {@code Thread.start} is instrumented: a thread started by the
 * main thread afterwards would count as main's child and shift the virtual ids of the app's own
 * threads, which replay (that starts no such thread) would not see.
 */
final class LogOpening {
    private final FutureTask<LogWriter> task;
    private final Thread thread;
    private volatile long nanos;

    private LogOpening(Path log, long mainVid) {
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

    /** Starts opening {@code log}; the environment record is written under {@code mainVid}. */
    static LogOpening start(Path log, long mainVid) {
        LogOpening o = new LogOpening(log, mainVid);
        o.thread.start();
        return o;
    }

    private static LogWriter open(Path log, long mainVid) throws Exception {
        // The fingerprint is hashed while the writer thread opens the queue.
        LogWriter w = LogWriter.open(log, new LogWriter.Options().fingerprintFrom(LogOpening::fingerprint));
        try {
            long p = w.append(RecordTypes.ENVIRONMENT, mainVid, 0, EnvironmentSnapshot.live().encode());
            w.awaitStable(p);
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

    /** The running app's fingerprint (main class, class path content, agent version). */
    static AppFingerprint fingerprint() throws java.io.IOException {
        String command = System.getProperty("sun.java.command", "?");
        String main = command.split(" ")[0];
        String version = AgentMain.class.getPackage().getImplementationVersion();
        return AppFingerprint.compute(main, System.getProperty("java.class.path"), version == null ? "dev" : version);
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
