package dev.revenant.agent.runtime;

import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.TreeMap;

import javax.management.MBeanServer;
import javax.management.ObjectName;

import dev.revenant.log.ForceTiming;
import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;

/**
 * The agent's MBean. Registered on a background thread once start-up is over (starting the
 * platform MBean server costs tens of milliseconds that the app's start-up should not wait for);
 * a failure there is one warning and nothing else: monitoring never stops the app.
 */
final class AgentStatus implements RevenantAgentMXBean {
    static final String NAME = "dev.revenant:type=Agent";

    private final String role;
    private final String logDirectory;
    private final Run run;
    private final NetRuntime net;
    private volatile long registrationNanos = -1;

    private AgentStatus(String role, String logDirectory, Run run, NetRuntime net) {
        this.role = role;
        this.logDirectory = logDirectory;
        this.run = run;
        this.net = net;
    }

    /**
     * Starts the thread that registers the MBean. It is an agent thread (its hooks pass through,
     * it is nobody's child), started in every role at the same point, so that the platform MBean
     * server exists from then on whether or not the agent records.
     */
    static void registerLater(String role, String logDirectory, Run run, NetRuntime net) {
        AgentStatus status = new AgentStatus(role, logDirectory, run, net);
        Thread t = new Thread(status::register, "revenant-jmx");
        t.setDaemon(true);
        t.start();
    }

    private void register() {
        long t0 = System.nanoTime();
        try {
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            ObjectName name = new ObjectName(NAME);
            if (!server.isRegistered(name)) {
                server.registerMBean(this, name);
            }
            registrationNanos = System.nanoTime() - t0;
            if (StartupPhases.debug()) {
                AgentLog.line("revenant: startup: MBean " + NAME + " registered in "
                        + String.format(java.util.Locale.ROOT, "%.1f", registrationNanos / 1e6)
                        + " ms on a background thread");
            }
        } catch (Throwable e) {
            AgentLog.warn("monitoring over JMX is off (the app runs on): " + e);
        }
    }

    private static LogWriter log() {
        return AgentMain.writer();
    }

    private static double millis(long nanos) {
        return nanos / 1e6;
    }

    @Override
    public String getRole() {
        return role;
    }

    @Override
    public String getPhase() {
        if (!run.live()) {
            return "replaying";
        }
        return run.replayer() == null ? "recording" : "live";
    }

    @Override
    public int getEpoch() {
        LogWriter w = log();
        return w == null ? -1 : w.epoch();
    }

    @Override
    public String getLogDirectory() {
        return logDirectory;
    }

    @Override
    public long getPid() {
        return ProcessHandle.current().pid();
    }

    private static boolean determinant(int type) {
        return type == RecordTypes.CLOCK || type == RecordTypes.RANDOM || type == RecordTypes.TIMED_WAIT
                || type == RecordTypes.SOCKET_ACCEPT || type == RecordTypes.SOCKET_READ
                || type == RecordTypes.SOCKET_WRITE || type == RecordTypes.SELECT;
    }

    @Override
    public long getDeterminantsRecorded() {
        LogWriter w = log();
        if (w == null) {
            return 0;
        }
        long[] c = w.recordsWrittenByType();
        long n = 0;
        for (int i = 0; i < c.length; i++) {
            if (determinant(i)) {
                n += c[i];
            }
        }
        return n;
    }

    @Override
    public Map<String, Long> getRecordsByType() {
        Map<String, Long> m = new TreeMap<>();
        LogWriter w = log();
        if (w != null) {
            long[] c = w.recordsWrittenByType();
            for (int i = 0; i < c.length; i++) {
                if (c[i] > 0) {
                    m.put(RecordTypes.name(i), c[i]);
                }
            }
        }
        return m;
    }

    @Override
    public long getDeterminantsReplayed() {
        Replayer r = run.replayer();
        return r == null ? 0 : r.replayed();
    }

    @Override
    public long getBytesAppended() {
        LogWriter w = log();
        return w == null ? 0 : w.bytesWritten();
    }

    @Override
    public long getAppendedPosition() {
        LogWriter w = log();
        return w == null ? -1 : w.appendedPosition();
    }

    @Override
    public long getWrittenPosition() {
        LogWriter w = log();
        return w == null ? -1 : w.writtenPosition();
    }

    @Override
    public long getStablePosition() {
        LogWriter w = log();
        return w == null ? -1 : w.stablePosition();
    }

    @Override
    public long getStableLagRecords() {
        LogWriter w = log();
        return w == null ? 0 : Math.max(0, w.appendedPosition() - w.stablePosition());
    }

    @Override
    public double getStableLagMillis() {
        LogWriter w = log();
        return w == null ? 0 : millis(w.stableLagNanos());
    }

    @Override
    public double getLastStableLagMillis() {
        LogWriter w = log();
        return w == null ? 0 : millis(w.lastStableLagNanos());
    }

    @Override
    public double getMaxStableLagMillis() {
        LogWriter w = log();
        return w == null ? 0 : millis(w.maxStableLagNanos());
    }

    @Override
    public long getForceCount() {
        LogWriter w = log();
        return w == null ? 0 : w.forceCount();
    }

    @Override
    public double getLastForceMillis() {
        LogWriter w = log();
        return w == null ? 0 : millis(w.lastForceNanos());
    }

    @Override
    public double getMaxForceMillis() {
        LogWriter w = log();
        return w == null ? 0 : millis(w.maxForceNanos());
    }

    @Override
    public double getMeanForceMillis() {
        LogWriter w = log();
        long n = w == null ? 0 : w.forceCount();
        return n == 0 ? 0 : millis(w.forceNanosTotal()) / n;
    }

    @Override
    public long[] getForceLatencyHistogram() {
        LogWriter w = log();
        return w == null ? new long[ForceTiming.BUCKET_BOUNDS_MICROS.length + 1] : w.forceHistogram();
    }

    @Override
    public long[] getForceLatencyBucketBoundsMicros() {
        return ForceTiming.BUCKET_BOUNDS_MICROS.clone();
    }

    @Override
    public long getForceLatencyP50Micros() {
        return ForceTiming.quantileMicros(getForceLatencyHistogram(), 0.5);
    }

    @Override
    public long getForceLatencyP99Micros() {
        return ForceTiming.quantileMicros(getForceLatencyHistogram(), 0.99);
    }

    @Override
    public long getOutboxBytesHeld() {
        Outboxes o = net.outboxes();
        return o == null ? 0 : o.bytesHeld.get();
    }

    @Override
    public long getOutboxBytesReleased() {
        Outboxes o = net.outboxes();
        return o == null ? 0 : o.bytesReleased.get();
    }

    @Override
    public long getOutputWritesReleased() {
        Outboxes o = net.outboxes();
        return o == null ? 0 : o.writesReleased.sum();
    }

    @Override
    public double getOutputHeldMillisTotal() {
        Outboxes o = net.outboxes();
        return o == null ? 0 : millis(o.heldNanosTotal.sum());
    }

    @Override
    public double getOutputHeldMillisMax() {
        Outboxes o = net.outboxes();
        return o == null ? 0 : millis(o.heldNanosMax.get());
    }

    @Override
    public long getServerSocketsBound() {
        return net.bindsRecorded.get();
    }

    @Override
    public long getConnectionsAccepted() {
        return net.accepted.get();
    }

    @Override
    public long getConnectionsConnected() {
        return net.connected.get();
    }

    @Override
    public int getConnectionsTracked() {
        return net.tracked();
    }

    @Override
    public long getCheckpoints() {
        return 0;
    }

    @Override
    public double getJmxRegistrationMillis() {
        long n = registrationNanos;
        return n < 0 ? -1 : millis(n);
    }
}
