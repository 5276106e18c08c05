package dev.revenant.agent.runtime;

import java.util.Map;

/**
 * What a running agent shows over JMX as {@value AgentStatus#NAME}: read it with jconsole, any JMX
 * client, or {@code revenant status --pid PID}. Every attribute is read on demand from counters the
 * agent keeps anyway (or keeps off the app's path); reading them costs the app nothing. Positions
 * and counts of records are those of the current writer session (epoch); they are -1 or 0 while
 * nothing records (offline replay, a recovery still replaying).
 */
public interface RevenantAgentMXBean {
    /** {@code record}, {@code replay} or {@code recover}: how the agent was started. */
    String getRole();

    /** {@code recording}, {@code replaying} or {@code live} (a recovered process that records again). */
    String getPhase();

    /** Epoch of the writer session recording now; -1 while nothing records. */
    int getEpoch();

    String getLogDirectory();

    long getPid();

    /** Determinants this session recorded (clock, random, timed-wait and socket records). */
    long getDeterminantsRecorded();

    /** Records this session wrote, by type name (determinants and the session's own header records). */
    Map<String, Long> getRecordsByType();

    /** Determinants taken from the log by replay (offline replay, or a recovery before and after it went live). */
    long getDeterminantsReplayed();

    /** Bytes of records (header, payload, CRC) this session handed to the log. */
    long getBytesAppended();

    /** Highest position handed out to a recording thread. */
    long getAppendedPosition();

    /** Highest position written to the segment (page cache). */
    long getWrittenPosition();

    /** Highest position forced to disk: everything up to it survives a power cut. */
    long getStablePosition();

    /** Records appended but not yet stable. */
    long getStableLagRecords();

    /** How long the oldest record written but not yet stable has waited (0 when all is stable). */
    double getStableLagMillis();

    /** How long the oldest record made stable by the last force had waited. */
    double getLastStableLagMillis();

    double getMaxStableLagMillis();

    /** fdatasync calls this session made. */
    long getForceCount();

    double getLastForceMillis();

    double getMaxForceMillis();

    double getMeanForceMillis();

    /** Forces per latency bucket: bucket i counts forces of at most {@link #getForceLatencyBucketBoundsMicros()}[i] µs; the last bucket the rest. */
    long[] getForceLatencyHistogram();

    long[] getForceLatencyBucketBoundsMicros();

    /** Upper bound (µs) of the histogram bucket holding the median force; -1 before the first. */
    long getForceLatencyP50Micros();

    /** Upper bound (µs) of the histogram bucket holding the 99th percentile force; -1 before the first. */
    long getForceLatencyP99Micros();

    /** Output bytes held in outboxes now, waiting for the log to be forced. */
    long getOutboxBytesHeld();

    /** Output bytes that have left the outboxes. */
    long getOutboxBytesReleased();

    /** App writes whose bytes have left the outboxes. */
    long getOutputWritesReleased();

    /** Sum over released writes of the time each waited in its outbox. */
    double getOutputHeldMillisTotal();

    /** Longest time one write waited in its outbox. */
    double getOutputHeldMillisMax();

    long getServerSocketsBound();

    long getConnectionsAccepted();

    long getConnectionsConnected();

    /** Sockets the agent tracks by descriptor now (servers included; channels stay until their number is reused). */
    int getConnectionsTracked();

    /** Checkpoints taken: always 0 in this version (recovery replays the whole log). */
    long getCheckpoints();

    /** How long registering this MBean took on the agent's background thread (platform MBean server start included). */
    double getJmxRegistrationMillis();
}
