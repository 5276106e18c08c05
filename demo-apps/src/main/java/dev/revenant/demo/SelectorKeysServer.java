package dev.revenant.demo;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Random;

/**
 * A single-threaded NIO server written the classic way: {@code selector.select()}, then walk
 * {@code selector.selectedKeys()} with an iterator, removing each key before handling it (where
 * {@link KvServer} uses {@code select(Consumer)}). Which keys are ready together, and in which order
 * the set hands them out, decides which client's request is served first, so what the shared
 * {@link Random} gives each write as its id.
 *
 * <p>It speaks a subset of KvServer's protocol, with the same replies:
 * {@code SET key value -> OK id}, {@code GET key -> VALUE value id | NIL}, {@code INCR key -> INT n},
 * {@code PING -> PONG}, anything else {@code ERR unknown command}. Usage:
 * {@code java -cp demo-apps.jar dev.revenant.demo.SelectorKeysServer <port> [bind-address]}; prints
 * {@code kv listening on <port>} once it is ready.
 */
public final class SelectorKeysServer {
    private record Entry(String value, String id) {}

    private final Map<String, Entry> store = new HashMap<>();
    private final Random random = new Random();

    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: SelectorKeysServer <port> [bind-address]");
            System.exit(2);
        }
        InetAddress bindTo = args.length == 2 ? InetAddress.getByName(args[1]) : InetAddress.getLoopbackAddress();
        new SelectorKeysServer().serve(new InetSocketAddress(bindTo, Integer.parseInt(args[0])));
    }

    /** One client: bytes of a line not yet complete, and replies the socket has not taken yet. */
    private static final class Conn {
        final StringBuilder line = new StringBuilder();
        ByteBuffer out = ByteBuffer.allocate(0);
        boolean closing;
    }

    private void serve(InetSocketAddress address) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(8192);
        try (Selector selector = Selector.open(); ServerSocketChannel server = ServerSocketChannel.open()) {
            server.bind(address);
            server.configureBlocking(false);
            server.register(selector, SelectionKey.OP_ACCEPT);
            System.out.println("kv listening on " + server.socket().getLocalPort());
            System.out.flush();
            while (true) {
                selector.select();
                Iterator<SelectionKey> it = selector.selectedKeys().iterator();
                while (it.hasNext()) {
                    SelectionKey key = it.next();
                    it.remove();
                    try {
                        if (!key.isValid()) {
                            continue;
                        }
                        if (key.isAcceptable()) {
                            SocketChannel c = server.accept();
                            if (c != null) {
                                c.configureBlocking(false);
                                c.register(selector, SelectionKey.OP_READ, new Conn());
                            }
                            continue;
                        }
                        if (key.isReadable()) {
                            read(key, buf);
                        }
                        if (key.isValid() && key.isWritable()) {
                            flush(key);
                        }
                    } catch (IOException e) {
                        key.cancel();
                        key.channel().close();
                    }
                }
            }
        }
    }

    private void read(SelectionKey key, ByteBuffer buf) throws IOException {
        SocketChannel c = (SocketChannel) key.channel();
        Conn conn = (Conn) key.attachment();
        buf.clear();
        int n = c.read(buf);
        if (n < 0) {
            conn.closing = true;
        }
        StringBuilder replies = new StringBuilder();
        for (int i = 0; i < Math.max(n, 0); i++) {
            char ch = (char) (buf.get(i) & 0xff); // the protocol is ASCII
            if (ch == '\n') {
                int end = conn.line.length();
                if (end > 0 && conn.line.charAt(end - 1) == '\r') {
                    conn.line.setLength(end - 1);
                }
                replies.append(execute(conn.line.toString())).append('\n');
                conn.line.setLength(0);
            } else {
                conn.line.append(ch);
            }
        }
        if (replies.length() > 0) {
            byte[] bytes = replies.toString().getBytes(StandardCharsets.US_ASCII);
            ByteBuffer more = ByteBuffer.allocate(conn.out.remaining() + bytes.length);
            more.put(conn.out).put(bytes).flip();
            conn.out = more;
        }
        flush(key);
    }

    private static void flush(SelectionKey key) throws IOException {
        SocketChannel c = (SocketChannel) key.channel();
        Conn conn = (Conn) key.attachment();
        c.write(conn.out);
        if (conn.out.hasRemaining()) {
            key.interestOps(SelectionKey.OP_WRITE);
        } else if (conn.closing) {
            key.cancel();
            c.close();
        } else {
            key.interestOps(SelectionKey.OP_READ);
        }
    }

    private String execute(String line) {
        String[] t = line.split(" ", -1);
        return switch (t[0] + "/" + t.length) {
            case "SET/3" -> {
                Entry e = new Entry(t[2], newId());
                store.put(t[1], e);
                yield "OK " + e.id;
            }
            case "GET/2" -> {
                Entry e = store.get(t[1]);
                yield e == null ? "NIL" : "VALUE " + e.value + " " + e.id;
            }
            case "INCR/2" -> {
                Entry e = store.get(t[1]);
                long n;
                try {
                    n = e == null ? 1 : Math.addExact(Long.parseLong(e.value), 1);
                } catch (NumberFormatException | ArithmeticException notAnInteger) {
                    yield "ERR not an integer";
                }
                store.put(t[1], new Entry(Long.toString(n), newId()));
                yield "INT " + n;
            }
            case "PING/1" -> "PONG";
            default -> "ERR unknown command";
        };
    }

    private String newId() {
        String hex = Long.toHexString(random.nextLong());
        return "0".repeat(16 - hex.length()) + hex;
    }
}
