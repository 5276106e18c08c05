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
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * A chat relay: every message a client says is numbered and sent to every connected client, its
 * sender included, in one order. Each connection has a reader thread and a writer thread; the
 * readers put what they read on one blocking queue, a single relay thread takes from it, numbers
 * each message, keeps it in the history and puts it on every member's own blocking queue, which
 * that member's writer drains onto its socket. Which reader's message the relay takes first decides
 * the numbers, so the order every client sees depends on how the threads interleave.
 *
 * <p>Line protocol: {@code JOIN name -> JOINED last} (the member then receives every message numbered
 * after {@code last}, in order, as {@code MSG n name text}); {@code SAY text} (answered by its own
 * {@code MSG} line); {@code HIST from -> H n name text} lines for every message from {@code from},
 * then {@code END last}. Anything before {@code JOIN} other than {@code HIST}, or any unknown line,
 * gets {@code ERR ...}.
 *
 * <p>Usage: {@code java -cp demo-apps.jar dev.revenant.demo.ChatRelay <port>}; prints
 * {@code chat listening on <port>} once it is ready.
 */
public final class ChatRelay {
    private static final int MAX_LINE = 4096;
    private static final String CLOSE = "\u0000close";

    /** What a reader hands the relay thread. */
    private record Event(Member from, String line) {}

    /** One connection: its name once joined, and the queue its writer drains. */
    private static final class Member {
        final BlockingQueue<String> out = new LinkedBlockingQueue<>();
        String name;
    }

    private final BlockingQueue<Event> inbox = new LinkedBlockingQueue<>();
    private final List<String> history = new ArrayList<>();
    private final Map<Member, Boolean> members = new LinkedHashMap<>();

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: ChatRelay <port>");
            System.exit(2);
        }
        new ChatRelay().serve(new InetSocketAddress(InetAddress.getLoopbackAddress(), Integer.parseInt(args[0])));
    }

    private void serve(InetSocketAddress address) throws IOException {
        Thread relay = new Thread(this::relay, "chat-relay");
        relay.setDaemon(true);
        relay.start();
        try (ServerSocket server = new ServerSocket()) {
            server.bind(address);
            System.out.println("chat listening on " + server.getLocalPort());
            System.out.flush();
            int n = 0;
            while (true) {
                Socket s = server.accept();
                Member m = new Member();
                new Thread(() -> write(s, m), "chat-out-" + n).start();
                new Thread(() -> read(s, m), "chat-in-" + n++).start();
            }
        }
    }

    /** The reader: every line goes to the relay thread; end of stream says the member left. */
    private void read(Socket s, Member m) {
        try {
            s.setTcpNoDelay(true);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null && line.length() <= MAX_LINE; ) {
                inbox.put(new Event(m, line));
            }
        } catch (IOException e) {
            // a client that resets or vanishes leaves, nothing more
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            inbox.put(new Event(m, CLOSE));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The writer: drains the member's queue onto its socket until the relay says it is closed. */
    private void write(Socket s, Member m) {
        try (s) {
            OutputStream out = s.getOutputStream();
            for (String line; !(line = m.out.take()).equals(CLOSE); ) {
                out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                if (m.out.isEmpty()) {
                    out.flush();
                }
            }
        } catch (IOException e) {
            // the client is gone; its reader will tell the relay
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The one thread that orders everything: numbers messages and fans them out. */
    private void relay() {
        try {
            while (true) {
                Event e = inbox.take();
                handle(e.from(), e.line());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void handle(Member m, String line) throws InterruptedException {
        if (line.equals(CLOSE)) {
            members.remove(m);
            m.out.put(CLOSE);
            return;
        }
        int space = line.indexOf(' ');
        String verb = space < 0 ? line : line.substring(0, space);
        String rest = space < 0 ? "" : line.substring(space + 1);
        switch (verb) {
            case "JOIN" -> {
                if (m.name != null || rest.isEmpty() || rest.contains(" ")) {
                    m.out.put("ERR JOIN takes one name, once");
                } else {
                    m.name = rest;
                    members.put(m, Boolean.TRUE);
                    m.out.put("JOINED " + history.size());
                }
            }
            case "SAY" -> {
                if (m.name == null) {
                    m.out.put("ERR JOIN first");
                } else {
                    history.add(m.name + " " + rest);
                    String msg = "MSG " + history.size() + " " + m.name + " " + rest;
                    for (Member to : members.keySet()) {
                        to.out.put(msg);
                    }
                }
            }
            case "HIST" -> {
                int from;
                try {
                    from = Math.max(1, Integer.parseInt(rest));
                } catch (NumberFormatException x) {
                    m.out.put("ERR HIST takes a number");
                    return;
                }
                for (int n = from; n <= history.size(); n++) {
                    m.out.put("H " + n + " " + history.get(n - 1));
                }
                m.out.put("END " + history.size());
            }
            default -> m.out.put("ERR unknown command");
        }
    }
}
