package dev.revenant.agent.runtime;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import dev.revenant.bridge.NetHooks;

/**
 * Sockets and the epoll selector, in every phase of a {@link Run}: NIO socket channels (and their
 * socket adaptors' blocking streams), {@code java.net.Socket}/{@code ServerSocket} through
 * {@code NioSocketImpl} ({@link SocketImpls}), outgoing connects.
 *
 * <p><b>Connections</b> get ids in the order the recorded run bound or accepted them; the log
 * names connections by id, the hooks find them by file descriptor.
 *
 * <p><b>Record</b>: the JDK does the I/O; bind, accept, read (with the bytes), write counts and
 * each ready set of the selector are logged. With {@code commit=pessimistic} writes do not reach
 * the socket: they go into the connection's outbox ({@link Outboxes}) and leave once stable.
 *
 * <p><b>Replay</b> (and recovery before going live): no real I/O with the outside. A bind is not
 * made (the server socket stays unbound until the process goes live); an accept is answered with
 * a <em>stand-in</em>, a real loopback connection to a peer the agent owns, and so is a connect
 * (made to a one-off listener of the agent's instead); reads return the logged bytes, writes the
 * logged counts; the selector reports the logged ready sets, written into its
 * poll array with the descriptors of this process. <b>Going live</b> binds each server socket to
 * the address it had and resets the stand-ins' peers, so a connection open at the crash sees an
 * {@code IOException} on its next read or write, and its client retries.
 *
 * <p>This class puts the parts together: {@link Conns} (the connection table, hidden servers,
 * stand-ins' reset), {@link NetOutput} (outboxes), and one part per kind of hook —
 * {@link NetBinds}, {@link NetAccepts}, {@link NetTransfers}, {@link NetConnects},
 * {@link NetSelectors} — which the bridge calls directly.
 */
final class NetRuntime implements NetHooks.Net {
    private final Conns conns = new Conns();
    private final NetOutput output;
    private final NetBinds binds;
    private final NetAccepts accepts;
    private final NetTransfers transfers;
    private final NetConnects connects;
    private final NetSelectors selectors;
    // For monitoring: server sockets bound, connections accepted and made, as this process recorded them.
    final AtomicLong bindsRecorded = conns.bindsRecorded;
    final AtomicLong accepted = conns.accepted;
    final AtomicLong connected = conns.connected;
    private final java.util.Set<String> warned = ConcurrentHashMap.newKeySet();

    NetRuntime(Run run, boolean holdOutput) {
        this.output = new NetOutput(holdOutput);
        this.binds = new NetBinds(run, conns);
        this.accepts = new NetAccepts(run, conns);
        this.transfers = new NetTransfers(run, conns, output);
        this.connects = new NetConnects(run, conns, this::unsupported);
        this.selectors = new NetSelectors(run, conns);
        if (run.live()) {
            output.start(run.log());
        }
    }

    @Override
    public NetHooks.Binds binds() {
        return binds;
    }

    @Override
    public NetHooks.Accepts accepts() {
        return accepts;
    }

    @Override
    public NetHooks.Transfers transfers() {
        return transfers;
    }

    @Override
    public NetHooks.Connects connects() {
        return connects;
    }

    @Override
    public NetHooks.Selectors selectors() {
        return selectors;
    }

    @Override
    public void unsupported(String what) {
        if (warned.add(what)) {
            AgentLog.warn("the app uses " + what + ", which this version does not record: what it receives that "
                    + "way is not in the log, and a recovery of this process may not rebuild the same state");
        }
    }

    /** Initialises {@link NetJdk} now, on this thread (replay: the same moment in every run). */
    static void prepareJdk() {
        try {
            Class.forName(NetJdk.class.getName(), true, NetJdk.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Initialises {@link NetJdk} on an agent thread ({@code revenant-prepare-net}) so that {@code main}
     * need not wait for it. If the JDK lacks what the hooks need, sockets cannot be recorded: the
     * app is stopped with exit 2 (strict) before any socket output could leave, as premain would
     * have stopped it.
     */
    static void prepareInBackground() {
        Thread t = new Thread(() -> {
            try {
                prepareJdk();
            } catch (Throwable e) {
                Throwable c = e instanceof ExceptionInInitializerError && e.getCause() != null ? e.getCause() : e;
                try {
                    AgentLog.error("agent start-up failed: this JDK lacks the socket internals the agent records ("
                            + c + ") — the app is stopped (exit 2); run with disable=sockets to record without them");
                } finally {
                    Runtime.getRuntime().halt(2);
                }
            }
        }, "revenant-prepare-net");
        t.setDaemon(true);
        t.start();
    }

    /** {@code diskfull=fail} while the log is paused: held output is dropped and writes fail. */
    void refuseOutput(java.io.IOException cause, boolean fail) {
        output.refuseOutput(cause, fail);
    }

    void acceptOutput() {
        output.acceptOutput();
    }

    /** At exit: waits (up to {@code millis}) for held output to leave. */
    void drainAll(long millis) {
        output.drainAll(conns, millis);
    }

    /**
     * First step of going live, before the log is touched: binds every server socket replay kept
     * unbound to the address it had. If one cannot be bound the process stops and the log is
     * exactly as it was. Returns the JSON fields of the summary that say so.
     */
    String bindHiddenServers() {
        return conns.bindHiddenServers();
    }

    /** The rest of going live, once the new log session is open: output and the stand-ins' reset. */
    String goLive(dev.revenant.log.LogWriter log) {
        output.start(log);
        return "\"interruptedConnections\":" + conns.interruptAll();
    }

    long heldBytes() {
        return output.heldBytes();
    }

    Outboxes outboxes() {
        return output.outboxes();
    }

    /** Connections the runtime tracks by descriptor now (server sockets included). */
    int tracked() {
        return conns.size();
    }
}
