package dev.revenant.agent.runtime;

import java.nio.charset.StandardCharsets;

import dev.revenant.agent.config.AgentConfig;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.AppFingerprint;
import dev.revenant.log.LogOptions;
import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;

/**
 * {@code role=recover}: the app replays its log with its console quiet, reporting progress, and
 * when the log has nothing more it goes live — a new writer session (the next epoch) continues
 * the same log, server sockets are bound to their recorded addresses, connections open at the
 * crash are interrupted, the console is back, and one summary line tells the CLI.
 *
 * <p>Lines for the CLI on stderr: {@code revenant: progress <determinants> <position>} now and
 * then while replaying, and {@code revenant: live <json>} once live.
 */
final class Recovery implements Run.GoLive {
    static final String PROGRESS = "revenant: progress ";
    static final String LIVE = "revenant: live ";

    private final AgentConfig config;
    private final AppFingerprint fingerprint;
    private final long startedNanos;
    private Run run;
    private NetRuntime net;
    private long replayed;
    private long lastPosition;
    private long lastProgress;

    Recovery(AgentConfig config, AppFingerprint fingerprint, long startedNanos) {
        this.config = config;
        this.fingerprint = fingerprint;
        this.startedNanos = startedNanos;
    }

    void attach(Run r, NetRuntime n) {
        this.run = r;
        this.net = n;
    }

    void progress(long n, long position) {
        long now = System.nanoTime();
        if (now - lastProgress > 200_000_000L) {
            lastProgress = now;
            AgentLog.line(PROGRESS + n + " " + position);
        }
    }

    private static final String CONTINUES_NOTE = "continues the run after position ";

    /** The position a {@code CONTINUES} record says its session went on after; -1 if it does not say. */
    static long continuedAfter(byte[] payload) {
        String note = new String(payload, StandardCharsets.UTF_8);
        if (!note.startsWith(CONTINUES_NOTE)) {
            return -1;
        }
        int end = CONTINUES_NOTE.length();
        while (end < note.length() && Character.isDigit(note.charAt(end))) {
            end++;
        }
        try {
            return Long.parseLong(note.substring(CONTINUES_NOTE.length(), end));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The replayer found the end of the log (its lock held): go live. */
    void logEnded(long n, long last) {
        this.replayed = n;
        this.lastPosition = last;
        run.wentLive();
    }

    @Override
    public Recorder open(Run r) throws Exception {
        // The ports first: a service that cannot listen where it did stops before the log changes.
        String servers = net.bindHiddenServers();
        LogWriter w = LogWriter.open(config.log(), new LogOptions().fingerprint(fingerprint));
        String note = CONTINUES_NOTE + lastPosition + " (" + replayed + " determinants replayed)";
        w.append(RecordTypes.CONTINUES, ThreadState.current().vid, 0, note.getBytes(StandardCharsets.UTF_8));
        AgentMain.setWriter(w);
        LogHealth.watch(w, net, config.diskfull());
        String sockets = net.goLive(w);
        Session.closeAtExit(w, net);
        Console.restore();
        long millis = (System.nanoTime() - startedNanos) / 1_000_000;
        AgentLog.line(LIVE + "{\"epoch\":" + w.epoch() + ",\"replayed\":" + replayed + ",\"lastReplayedPosition\":"
                + lastPosition + ",\"firstLivePosition\":" + w.sessionStart() + ",\"replayMillis\":" + millis + ","
                + servers + "," + sockets + "}");
        return new Recorder(w, config.check().equals("stamps"));
    }
}
