package dev.revenant.agent.runtime;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogRecord;

/**
 * The connections and server sockets of one run. Ids count binds, accepts and connects in the
 * order the recorded run made them; the log names connections by id, the hooks find them by file
 * descriptor. Also the server sockets replay keeps unbound, and what going live does to them and
 * to the stand-ins.
 */
final class Conns {
    private final ConcurrentHashMap<Integer, Conn> byFd = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<Long, Conn> byId = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong();
    // For monitoring: server sockets bound, connections accepted and made, as this process recorded them.
    final AtomicLong bindsRecorded = new AtomicLong();
    final AtomicLong accepted = new AtomicLong();
    final AtomicLong connected = new AtomicLong();
    private final List<Conn> hiddenServers = new ArrayList<>();
    /** Set (under the hiddenServers lock) once going live bound them: a later replayed bind binds at once. */
    private boolean serversBound;

    long idOf(int fd) {
        Conn c = byFd.get(fd);
        return c == null ? NetCodec.UNTRACKED : c.id;
    }

    Conn get(int fd) {
        return byFd.get(fd);
    }

    Conn byId(long id) {
        return byId.get(id);
    }

    /** The next id, for a connection this run records now. */
    long newId() {
        return nextId.getAndIncrement();
    }

    /** The connection on {@code fd}, tracked as untracked (no id) if the log does not know it. */
    Conn connOf(int fd) {
        return byFd.computeIfAbsent(fd, k -> new Conn(NetCodec.UNTRACKED, k));
    }

    /** Forgets {@code fd} (if it is still {@code c}'s): the kernel may give the number to another socket. */
    void forget(int fd, Conn c) {
        byFd.remove(fd, c);
    }

    java.util.Collection<Conn> all() {
        return byFd.values();
    }

    /** Connections tracked by descriptor now (server sockets included). */
    int size() {
        return byFd.size();
    }

    /** Replay: a connection the log names must be the one the program uses. */
    void check(ThreadState t, String what, LogRecord r, long logged, int fd) {
        long mine = idOf(fd);
        if (logged != mine && logged != NetCodec.UNTRACKED && mine != NetCodec.UNTRACKED) {
            Replayer.diverged(t, what + " on conn " + mine, r, null);
        }
    }

    /** Keeps a replayed server channel unbound until going live; false if the process is live already (bind it now). */
    boolean hide(Conn c) {
        synchronized (hiddenServers) {
            if (!serversBound) {
                hiddenServers.add(c);
                return true;
            }
            return false;
        }
    }

    /** The same for a {@code ServerSocket}'s impl: it listens only once bound, so it is always kept. */
    void hideImpl(Conn c) {
        synchronized (hiddenServers) {
            hiddenServers.add(c);
        }
    }

    /** Going live: every stand-in's peer is reset; returns how many were still open. */
    int interruptAll() {
        int interrupted = 0;
        for (Conn c : byId.values()) {
            if (c.peer != null && c.peer.isOpen()) {
                interrupted++;
            }
            interrupt(c);
        }
        return interrupted;
    }

    Conn register(long id, int fd) {
        Conn c = new Conn(id, fd);
        byFd.put(fd, c);
        if (id >= 0) {
            byId.put(id, c);
            nextId.accumulateAndGet(id + 1, Math::max);
        }
        return c;
    }

    void unhide(Conn c) {
        synchronized (hiddenServers) {
            hiddenServers.remove(c);
            c.hidden = null;
            c.hiddenImpl = null;
        }
    }

    /** Binds the hidden server sockets and interrupts the stand-ins; returns a one-line summary. */
    /**
     * First step of going live, before the log is touched: binds every server socket replay kept
     * unbound to the address it had. If one cannot be bound the process stops and the log is
     * exactly as it was. Returns the JSON fields of the summary that say so.
     */
    String bindHiddenServers() {
        StringBuilder ports = new StringBuilder();
        int bound = 0;
        synchronized (hiddenServers) {
            for (Conn c : hiddenServers) {
                bindHidden(c);
                bound++;
                ports.append(ports.length() == 0 ? "" : ",").append(c.local);
            }
            hiddenServers.clear();
            serversBound = true;
        }
        return "\"listening\":\"" + ports + "\",\"servers\":" + bound;
    }

    /** Binds a server socket replay kept unbound to the address it had; the process stops if it cannot. */
    static void bindHidden(Conn c) {
        IOException last = null;
        for (int attempt = 0; attempt < 50; attempt++) {
            try {
                if (c.hidden != null) {
                    c.hidden.bind(c.local, c.backlog);
                } else {
                    SocketImpls.liveBind(c.hiddenImpl, c.bindHost, ((InetSocketAddress) c.local).getPort(), c.backlog);
                }
                last = null;
                break;
            } catch (IOException e) {
                last = e;
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        if (last != null) {
            AgentLog.error("recovery cannot bind " + c.local + " again: " + last.getMessage()
                    + " (is another process on that port?); the process stops, the log is unchanged");
            Runtime.getRuntime().halt(1);
        }
        c.hidden = null;
        c.hiddenImpl = null;
    }

    /**
     * Resets the agent's end of a stand-in: the app's end sees a connection reset on its first
     * live read or write (the uncertain interrupt); its recorded addresses are no longer reported.
     */
    static void interrupt(Conn c) {
        SocketChannel peer = c.peer;
        if (peer == null) {
            return;
        }
        try {
            if (peer.isOpen()) {
                peer.setOption(StandardSocketOptions.SO_LINGER, 0);
                peer.close();
            }
        } catch (IOException ignored) {
            // already gone
        }
        c.peer = null;
        c.local = null;
        c.remote = null;
    }

    /**
     * The app closes a stand-in: the agent's end goes too, and the connection no longer counts as
     * a stand-in — the kernel may give its descriptor number to the next socket, which must not
     * report this one's recorded addresses.
     */
    static void closePeer(Conn c) {
        SocketChannel peer = c.peer;
        if (peer != null) {
            c.peer = null;
            try {
                peer.close();
            } catch (IOException ignored) {
                // the agent's end of a stand-in; nothing depends on it
            }
        }
    }
}
