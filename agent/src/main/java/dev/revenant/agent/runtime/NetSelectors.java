package dev.revenant.agent.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentHashMap;

import dev.revenant.bridge.NetHooks;
import dev.revenant.bridge.ThreadState;
import dev.revenant.log.LogRecord;

/**
 * The epoll selector. Record logs each ready set as {@code (conn, events)} pairs (the selector's
 * own wake-up descriptor as {@code wakeup}); replay writes the logged set into the poll array with
 * this process's descriptors, so the JDK's own {@code processEvents} selects the same keys.
 */
final class NetSelectors implements NetHooks.Selectors {
    private final Run run;
    private final Conns conns;
    private final ConcurrentHashMap<Integer, Integer> wakeupByEpfd = new ConcurrentHashMap<>();
    private volatile boolean warnedUntracked;

    NetSelectors(Run run, Conns conns) {
        this.run = run;
        this.conns = conns;
    }

    @Override
    public void selectorOpened(int epfd, Object eventfd) {
        try {
            wakeupByEpfd.put(epfd, (int) NetJdk.EVENTFD_FD.invokeExact(eventfd));
        } catch (Throwable e) {
            AgentLog.warn("cannot find the wake-up descriptor of a selector: " + e);
        }
    }

    @Override
    public int epollReplay(ThreadState t, int epfd, long address, int max) {
        LogRecord r = run.take(t, NetHooks.SELECT);
        if (r == null) {
            return -1;
        }
        ByteBuffer b = NetCodec.read(r.payload());
        int n = b.getInt();
        if (n > max) {
            Replayer.diverged(t, "select with room for " + max + " events", r, null);
        }
        try {
            for (int i = 0; i < n; i++) {
                long conn = b.getLong();
                int fd = b.getInt();
                int events = b.getInt();
                if (conn == NetCodec.WAKEUP) {
                    Integer w = wakeupByEpfd.get(epfd);
                    if (w == null) {
                        Replayer.diverged(t, "select on a selector whose wake-up descriptor is unknown", r, null);
                    }
                    fd = w;
                } else if (conn >= 0) {
                    Conn c = conns.byId(conn);
                    if (c == null) {
                        Replayer.diverged(t, "select", r, "conn " + conn + " does not exist in the replay");
                    }
                    fd = c.fd;
                }
                long at = address + (long) i * NetJdk.EVENT_SIZE;
                NetJdk.PUT_INT.invokeExact(at + NetJdk.EVENTS_OFFSET, events);
                NetJdk.PUT_INT.invokeExact(at + NetJdk.FD_OFFSET, fd);
            }
        } catch (Throwable e) {
            AgentLog.error("replay cannot write a ready set into the selector: " + e);
            Runtime.getRuntime().halt(1);
        }
        return n;
    }

    @Override
    public int epollWaitLive(int epfd, long address, int max, int timeout) throws IOException {
        return NetJdk.liveEpollWait(epfd, address, max, timeout);
    }

    @Override
    public void epollRecord(ThreadState t, int epfd, long address, int n) {
        if (n < 0) {
            return;
        }
        Integer wakeup = wakeupByEpfd.get(epfd);
        ByteBuffer b = NetCodec.buffer(NetHooks.SELECT, 5 + 16 * n).putInt(n);
        try {
            for (int i = 0; i < n; i++) {
                long at = address + (long) i * NetJdk.EVENT_SIZE;
                int events = (int) NetJdk.GET_INT.invokeExact(at + NetJdk.EVENTS_OFFSET);
                int fd = (int) NetJdk.GET_INT.invokeExact(at + NetJdk.FD_OFFSET);
                long conn = wakeup != null && fd == wakeup ? NetCodec.WAKEUP : conns.idOf(fd);
                if (conn == NetCodec.UNTRACKED && !warnedUntracked) {
                    warnedUntracked = true;
                    AgentLog.warn("a selector reported descriptor " + fd + ", which is not a connection the agent "
                            + "recorded (a pipe, or a channel of a kind not recorded yet): its replay may differ");
                }
                b.putLong(conn).putInt(fd).putInt(events);
            }
        } catch (Throwable e) {
            AgentLog.error("cannot read a selector's ready set: " + e);
        }
        run.record(t, NetHooks.SELECT, b.array());
    }
}
