package dev.revenant.agent.runtime;

import dev.revenant.log.LogSpaceException;
import dev.revenant.log.LogWriter;

/**
 * What the agent does when the log's file system refuses room (full, over quota, read-only) and
 * when it has room again: one loud message for each, and the {@code diskfull} policy applied to
 * held output. Runs on the log's writer thread.
 */
final class LogHealth implements LogWriter.HealthListener {
    private final LogWriter log;
    private final NetRuntime net;
    private final boolean fail;

    private LogHealth(LogWriter log, NetRuntime net, String diskfull) {
        this.log = log;
        this.net = net;
        this.fail = diskfull.equals("fail");
    }

    static void watch(LogWriter log, NetRuntime net, String diskfull) {
        log.healthListener(new LogHealth(log, net, diskfull));
    }

    @Override
    public void paused(LogSpaceException cause) {
        String held = fail
                ? "diskfull=fail: replies waiting for the disk are dropped and the app's socket writes fail with an "
                        + "IOException until the log has room again"
                : "replies that depend on unrecorded input are held (diskfull=hold): clients wait, nothing they are told "
                        + "can be lost";
        AgentLog.error("ERROR: the log " + log.directory() + " cannot be written: " + cause.getMessage() + ". Recording "
                + "is paused at position " + log.stablePosition() + " (durable so far); " + held + ". The app keeps "
                + "running until " + "the agent's queue of 65536 records is full, then its threads wait. To go on: free "
                + "space on that file system (or make it writable again); the log retries every second and resumes by "
                + "itself. If the process is stopped meanwhile, `revenant recover --log " + log.directory()
                + "` brings back everything that was acknowledged.");
        if (fail) {
            net.refuseOutput(cause, true);
        }
    }

    @Override
    public void failed(java.io.IOException cause) {
        told = true;
        AgentLog.error("ERROR: the log " + log.directory() + " failed and records no more: " + cause.getMessage()
                + ". Everything up to position " + log.stablePosition() + " is durable; "
                + (fail ? "replies waiting for the disk are dropped and the app's socket writes fail with an IOException"
                        : "replies that depend on later input stay held for good (clients time out)")
                + ". The writer cannot go on after a failed force (the kernel may have dropped the unwritten pages), so "
                + "stop the process, repair the file system (or make it writable), and run `revenant recover --log "
                + log.directory() + " -- <the service's java command>`: it brings back everything that was acknowledged.");
        net.refuseOutput(cause, fail);
    }

    /** True once the failure was told here, so the recorder does not tell it again. */
    static volatile boolean told;

    @Override
    public void resumed(long pausedMillis) {
        if (fail) {
            net.acceptOutput();
        }
        AgentLog.error("the log " + log.directory() + " can be written again after " + pausedMillis + " ms paused: "
                + "recording resumed" + (fail ? "" : ", held replies are being released"));
    }
}
