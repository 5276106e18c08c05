package dev.revenant.agent.runtime;

import java.net.InetAddress;
import java.net.SocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/** A connection or server socket the log knows by id, with what replay keeps for it. */
final class Conn {
    final long id;
    volatile int fd;
    /** Replay: the recorded addresses, reported instead of the stand-in's. */
    SocketAddress local;
    SocketAddress remote;
    /** Replay: a server socket not bound yet, with what to bind it to when going live. */
    ServerSocketChannel hidden;
    int backlog;
    /** Replay: the same for a {@code ServerSocket} (or a bound {@code Socket}): its impl and the host it asked for; backlog -1 until it listens. */
    Object hiddenImpl;
    InetAddress bindHost;
    /** Replay: the agent's end of a stand-in connection. */
    SocketChannel peer;
    volatile Outboxes.Outbox outbox;
    /** Writes made on this connection so far (record and replay count alike). */
    long writes;

    Conn(long id, int fd) {
        this.id = id;
        this.fd = fd;
    }
}
