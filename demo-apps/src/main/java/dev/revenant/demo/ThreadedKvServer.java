package dev.revenant.demo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@link KvServer}'s protocol and replies (SET, GET, INCR, DEL, PING; same words, same 16-hex-digit
 * write ids) served thread-per-connection over blocking {@code java.net} sockets: an acceptor
 * thread, one thread per client, one shared store guarded by a {@link ReentrantLock}. Which
 * client's request takes the lock first — and so which write id it gets from the shared
 * {@link Random}, and what a GET sees — is decided by how the threads interleave: a server that
 * replays exactly only if the thread schedule is part of its log.
 *
 * <p>Usage: {@code java -cp demo-apps.jar dev.revenant.demo.ThreadedKvServer <port> [bind-address]};
 * prints {@code kv listening on <port>} once it is ready.
 */
public final class ThreadedKvServer {
    private static final long NEVER = Long.MAX_VALUE;
    private static final int MAX_LINE = 1 << 20;

    private record Entry(String value, String id, long expiresAt) {}

    private final ReentrantLock lock = new ReentrantLock();
    private final Map<String, Entry> store = new HashMap<>(); // guarded by lock
    private final Random random = new Random();                // guarded by lock

    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: ThreadedKvServer <port> [bind-address]");
            System.exit(2);
        }
        InetAddress bindTo = args.length == 2 ? InetAddress.getByName(args[1]) : InetAddress.getLoopbackAddress();
        new ThreadedKvServer().serve(new InetSocketAddress(bindTo, Integer.parseInt(args[0])));
    }

    private void serve(InetSocketAddress address) throws IOException {
        try (ServerSocket server = new ServerSocket()) {
            server.bind(address);
            System.out.println("kv listening on " + server.getLocalPort());
            System.out.flush();
            int n = 0;
            while (true) {
                Socket s = server.accept();
                new Thread(() -> serveClient(s), "kv-conn-" + n++).start();
            }
        }
    }

    private void serveClient(Socket s) {
        try (s) {
            s.setTcpNoDelay(true);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = s.getOutputStream();
            for (String line; (line = in.readLine()) != null; ) {
                if (line.length() > MAX_LINE) {
                    return;
                }
                out.write((execute(line) + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            }
        } catch (IOException | RuntimeException e) {
            // a client that resets or vanishes loses its connection, nothing more
        }
    }

    /** One request line to one reply line (without its newline), under the store's lock. */
    private String execute(String line) {
        String[] t = line.split(" ", -1);
        lock.lock();
        try {
            return switch (t[0] + "/" + t.length) {
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
        } finally {
            lock.unlock();
        }
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
            return "ERR unknown command";
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
        store.put(key, new Entry(Long.toString(n), newId(), e == null ? NEVER : e.expiresAt));
        return "INT " + n;
    }

    private Entry live(String key) {
        Entry e = store.get(key);
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
