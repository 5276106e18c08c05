package dev.revenant.demo;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * A small in-memory key-value server that knows nothing of Revenant: one thread, one NIO selector,
 * a line-based text protocol. Its nondeterministic inputs are the bytes clients send, the wall
 * clock (for expiry) and a {@link Random} (for write ids), which is what makes it a useful target
 * for record and replay.
 *
 * <pre>
 * SET key value [ttl-ms]  -> OK id            id: 16 hex digits, fresh for every write
 * GET key                 -> VALUE value id | NIL
 * INCR key                -> INT n | ERR not an integer
 * DEL key                 -> DELETED 1 | DELETED 0
 * PING                    -> PONG
 * anything else           -> ERR unknown command
 * </pre>
 *
 * Requests and replies are UTF-8 lines ending in {@code \n} (a {@code \r} before it is dropped);
 * tokens are separated by single spaces, so keys and values cannot contain spaces. A client may
 * pipeline requests; each connection gets its replies in request order.
 *
 * <p>Usage: {@code java -cp demo-apps.jar dev.revenant.demo.KvServer <port> [bind-address]}. Port 0
 * picks a free port. It listens on the loopback address unless a bind address is given, and
 * prints {@code kv listening on <port>} once it is ready.
 */
public final class KvServer {

    /** A request line longer than this closes the connection (protects the server's memory). */
    private static final int MAX_LINE = 1 << 20;
    /** Stop reading a client's requests while this much of its output is still unsent. */
    private static final int MAX_PENDING_OUTPUT = 1 << 20;
    private static final long NEVER = Long.MAX_VALUE;

    private record Entry(String value, String id, long expiresAt) {}

    private final Map<String, Entry> store = new HashMap<>();
    private final Random random = new Random();

    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: KvServer <port> [bind-address]");
            System.exit(2);
        }
        InetAddress bindTo = args.length == 2 ? InetAddress.getByName(args[1]) : InetAddress.getLoopbackAddress();
        new KvServer().serve(new InetSocketAddress(bindTo, Integer.parseInt(args[0])));
    }

    private void serve(InetSocketAddress address) throws IOException {
        try (Selector selector = Selector.open(); ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(address);
            server.configureBlocking(false);
            server.register(selector, SelectionKey.OP_ACCEPT);
            System.out.println("kv listening on " + server.socket().getLocalPort());
            System.out.flush();
            while (true) {
                selector.select(key -> {
                    if (key.isAcceptable()) {
                        accept(server, selector);
                    } else {
                        serveClient(key);
                    }
                });
            }
        }
    }

    private void accept(ServerSocketChannel server, Selector selector) {
        try {
            SocketChannel channel = server.accept();
            if (channel == null) {
                return;
            }
            channel.configureBlocking(false);
            channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
            channel.register(selector, SelectionKey.OP_READ, new Connection(channel));
        } catch (IOException e) {
            // e.g. the client gave up before we got to it; nothing to clean up
        }
    }

    /** Reads what the client sent, answers every complete request and sends what it can. */
    private void serveClient(SelectionKey key) {
        Connection c = (Connection) key.attachment();
        try {
            if (key.isReadable()) {
                c.read();
            }
            // Answer and send; go round again while requests wait behind the output limit and
            // the socket has taken everything so far.
            boolean more;
            do {
                more = c.answerRequests();
            } while (c.flush() && more);
            boolean hasOutput = c.out.position() > 0;
            if (c.endOfInput && !hasOutput) {
                close(key);
                return;
            }
            int ops = hasOutput ? SelectionKey.OP_WRITE : 0;
            if (!c.endOfInput && c.out.position() < MAX_PENDING_OUTPUT) {
                ops |= SelectionKey.OP_READ;
            }
            key.interestOps(ops);
        } catch (IOException | RuntimeException e) {
            // A client that resets, vanishes or sends garbage loses its connection, nothing more.
            close(key);
        }
    }

    private static void close(SelectionKey key) {
        key.cancel();
        try {
            key.channel().close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    /** One client: bytes read but not yet answered, and replies not yet sent. */
    private final class Connection {
        final SocketChannel channel;
        ByteBuffer in = ByteBuffer.allocate(4096);   // write mode: filled up to position()
        ByteBuffer out = ByteBuffer.allocate(4096);  // write mode: replies waiting to be sent
        boolean endOfInput;

        Connection(SocketChannel channel) {
            this.channel = channel;
        }

        void read() throws IOException {
            if (!in.hasRemaining()) {
                if (in.capacity() >= MAX_LINE) {
                    throw new IOException("request line too long");
                }
                in = grow(in, in.capacity());
            }
            if (channel.read(in) < 0) {
                endOfInput = true;
            }
        }

        /** Answers complete lines; returns true if it stopped at the output limit with some left. */
        boolean answerRequests() {
            in.flip();
            int start = in.position();
            boolean stoppedEarly = false;
            for (int i = start; i < in.limit(); i++) {
                if (in.get(i) != '\n') {
                    continue;
                }
                if (out.position() >= MAX_PENDING_OUTPUT) {
                    stoppedEarly = true;
                    break;
                }
                int end = i > start && in.get(i - 1) == '\r' ? i - 1 : i;
                String line = new String(in.array(), start, end - start, StandardCharsets.UTF_8);
                send(execute(line));
                start = i + 1;
            }
            in.position(start);
            in.compact();
            return stoppedEarly;
        }

        void send(String reply) {
            byte[] bytes = (reply + "\n").getBytes(StandardCharsets.UTF_8);
            if (out.remaining() < bytes.length) {
                out = grow(out, bytes.length);
            }
            out.put(bytes);
        }

        /** Writes as much output as the socket takes; true if nothing is left. */
        boolean flush() throws IOException {
            out.flip();
            channel.write(out);
            out.compact();
            return out.position() == 0;
        }
    }

    private static ByteBuffer grow(ByteBuffer buffer, int atLeast) {
        ByteBuffer bigger = ByteBuffer.allocate(Math.max(buffer.capacity() * 2, buffer.position() + atLeast));
        buffer.flip();
        return bigger.put(buffer);
    }

    /** One request line to one reply line (without its newline). */
    private String execute(String line) {
        String[] t = line.split(" ", -1);
        return switch (t[0] + "/" + t.length) {  // command and token count
            case "SET/3" -> set(t[1], t[2], NEVER);
            case "SET/4" -> setWithTtl(t[1], t[2], t[3]);
            case "GET/2" -> {
                Entry e = live(t[1]);
                yield e == null ? "NIL" : "VALUE " + e.value + " " + e.id;
            }
            case "INCR/2" -> incr(t[1]);
            case "DEL/2" -> live(t[1]) != null && store.remove(t[1]) != null ? "DELETED 1" : "DELETED 0";
            case "PING/1" -> "PONG";
            default -> "ERR unknown command";
        };
    }

    private String set(String key, String value, long expiresAt) {
        Entry e = new Entry(value, newId(), expiresAt);
        store.put(key, e);
        return "OK " + e.id;
    }

    private String setWithTtl(String key, String value, String ttlText) {
        long ttl;
        try {
            ttl = Long.parseLong(ttlText);
        } catch (NumberFormatException e) {
            ttl = -1;
        }
        if (ttl < 0) {
            return "ERR unknown command";  // not one of the request forms above
        }
        long now = System.currentTimeMillis();
        return set(key, value, now + Math.min(ttl, NEVER - now));
    }

    private String incr(String key) {
        Entry e = live(key);
        long n;
        try {
            n = e == null ? 1 : Math.addExact(Long.parseLong(e.value), 1);
        } catch (NumberFormatException | ArithmeticException notAnInteger) {
            return "ERR not an integer";
        }
        // Like a SET of the new number, except that an expiry the key had is kept.
        store.put(key, new Entry(Long.toString(n), newId(), e == null ? NEVER : e.expiresAt));
        return "INT " + n;
    }

    /** The entry of a key, or null if it is missing or has expired (an expired one is dropped). */
    private Entry live(String key) {
        Entry e = store.get(key);
        // The clock is read only for keys that have an expiry.
        if (e != null && e.expiresAt != NEVER && System.currentTimeMillis() >= e.expiresAt) {
            store.remove(key);
            return null;
        }
        return e;
    }

    private String newId() {
        String hex = Long.toHexString(random.nextLong());
        return "0".repeat(16 - hex.length()) + hex;
    }
}
