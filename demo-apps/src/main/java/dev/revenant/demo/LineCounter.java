package dev.revenant.demo;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.Random;

/**
 * A counter server on plain blocking {@code java.net} sockets that knows nothing of Revenant: one
 * thread, one {@link ServerSocket}, one client connection served at a time, a line protocol.
 *
 * <pre>
 * INCR      -> INT n hex      n: the counter after the increment; hex: 16 random hex digits
 * GET       -> VALUE n
 * BLOB n    -> a line of n 'x' (a large reply)
 * QUIT      -> BYE, and the connection closes
 * SHUTDOWN  -> BYE, and the server exits
 * other     -> ERR unknown command
 * </pre>
 *
 * With an audit address, every INCR is first reported on an outgoing connection to that server
 * as {@code n hex}, which must answer {@code ACK n}; the connection is opened at start-up and
 * opened again (once per INCR) when it fails.
 *
 * <p>Its nondeterministic inputs: what clients and the audit server send and when (a client idle
 * for more than {@value #IDLE_MILLIS} ms makes a read time out, and no client for
 * {@value #ACCEPT_MILLIS} ms an accept; both are counted), how much input is waiting (replies are
 * flushed when none is, {@code available()}), and a {@link Random}.
 *
 * <p>With {@code channels} the very same code runs on the socket adaptors of NIO channels
 * ({@code ServerSocketChannel.socket()}, {@code SocketChannel.socket()}), and the first audit
 * connection is made non-blocking, waiting in a selector for {@code finishConnect}.
 *
 * <p>Usage: {@code java -cp demo-apps.jar dev.revenant.demo.LineCounter <port> [audit-host:port
 * [channels]]}. Prints {@code linecounter listening on <port>} when ready, and one line per
 * connection and per INCR, so that a replay can be compared with its recording.
 */
public final class LineCounter {
    static final int IDLE_MILLIS = 100;
    static final int ACCEPT_MILLIS = 300;

    private final Random random = new Random();
    private final InetSocketAddress auditAddress;
    private final boolean channels;
    private long counter;
    private long idleTimeouts;
    private long acceptTimeouts;
    private Socket audit;
    private LineReader auditIn;
    private OutputStream auditOut;

    private LineCounter(InetSocketAddress auditAddress, boolean channels) {
        this.auditAddress = auditAddress;
        this.channels = channels;
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 3 || args.length == 3 && !args[2].equals("channels")) {
            System.err.println("usage: LineCounter <port> [audit-host:port [channels]]");
            System.exit(2);
        }
        InetSocketAddress audit = null;
        if (args.length >= 2) {
            int colon = args[1].lastIndexOf(':');
            audit = new InetSocketAddress(args[1].substring(0, colon), Integer.parseInt(args[1].substring(colon + 1)));
        }
        new LineCounter(audit, args.length == 3).serve(Integer.parseInt(args[0]));
    }

    private void serve(int port) throws IOException {
        if (auditAddress != null) {
            connectAudit(true);
        }
        try (ServerSocket server = channels ? ServerSocketChannel.open().socket() : new ServerSocket()) {
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            server.setSoTimeout(ACCEPT_MILLIS);
            System.out.println("linecounter listening on " + server.getLocalPort());
            while (true) {
                Socket accepted;
                try {
                    accepted = server.accept();
                } catch (SocketTimeoutException e) {
                    acceptTimeouts++;
                    continue;
                }
                try (Socket client = accepted) {
                    System.out.println("client " + client.getRemoteSocketAddress() + " on "
                            + client.getLocalSocketAddress());
                    client.setSoTimeout(IDLE_MILLIS);
                    if (!converse(client)) {
                        System.out.println("shutdown after " + counter + " increments, " + idleTimeouts
                                + " idle timeouts, " + acceptTimeouts + " accept timeouts");
                        return;
                    }
                } catch (IOException e) {
                    System.out.println("client lost: " + e.getClass().getSimpleName());
                }
            }
        }
    }

    /** Serves one client until it leaves; false if it asked the server to shut down. */
    private boolean converse(Socket client) throws IOException {
        LineReader in = new LineReader(client.getInputStream());
        OutputStream out = new BufferedOutputStream(client.getOutputStream(), 8192);
        while (true) {
            String line;
            try {
                line = in.readLine();
            } catch (SocketTimeoutException e) {
                idleTimeouts++;
                continue;
            }
            if (line == null) {
                return true;
            }
            String[] w = line.split(" ");
            String reply;
            boolean quit = false;
            boolean shutdown = false;
            switch (w[0]) {
                case "INCR" -> reply = incr();
                case "GET" -> reply = "VALUE " + counter;
                case "BLOB" -> reply = "x".repeat(Integer.parseInt(w[1]));
                case "QUIT" -> {
                    reply = "BYE";
                    quit = true;
                }
                case "SHUTDOWN" -> {
                    reply = "BYE";
                    shutdown = true;
                }
                default -> reply = "ERR unknown command";
            }
            out.write((reply + "\n").getBytes(StandardCharsets.UTF_8));
            if (quit || shutdown || !in.ready()) {
                out.flush();
            }
            if (quit || shutdown) {
                client.shutdownOutput();
                return !shutdown;
            }
        }
    }

    private String incr() {
        long n = ++counter;
        String hex = String.format("%016x", random.nextLong());
        System.out.println("incr " + n + " " + hex);
        if (auditAddress != null && !report(n, hex) && !(connectAudit(false) && report(n, hex))) {
            return "ERR audit unavailable";
        }
        return "INT " + n + " " + hex;
    }

    private boolean report(long n, String hex) {
        if (audit == null) {
            return false;
        }
        try {
            auditOut.write((n + " " + hex + "\n").getBytes(StandardCharsets.UTF_8));
            auditOut.flush();
            String ack = auditIn.readLineWaiting();
            if (("ACK " + n).equals(ack)) {
                return true;
            }
            System.out.println("audit said " + ack);
        } catch (IOException e) {
            System.out.println("audit lost: " + e.getClass().getSimpleName());
        }
        closeAudit();
        return false;
    }

    private boolean connectAudit(boolean first) {
        closeAudit();
        try {
            Socket s;
            if (!channels) {
                s = new Socket();
                s.connect(auditAddress, 5_000);
            } else if (first) {
                SocketChannel ch = SocketChannel.open();
                ch.configureBlocking(false);
                if (!ch.connect(auditAddress)) {
                    try (Selector selector = Selector.open()) {
                        ch.register(selector, SelectionKey.OP_CONNECT);
                        while (!ch.finishConnect()) {
                            selector.select(5_000);
                        }
                    }
                }
                ch.configureBlocking(true);
                s = ch.socket();
            } else {
                s = SocketChannel.open().socket();
                s.connect(auditAddress, 5_000);
            }
            audit = s;
            auditIn = new LineReader(s.getInputStream());
            auditOut = s.getOutputStream();
            System.out.println("audit connected from " + s.getLocalAddress().getHostAddress());
            return true;
        } catch (IOException e) {
            System.out.println("audit unreachable: " + e.getClass().getSimpleName());
            return false;
        }
    }

    private void closeAudit() {
        if (audit != null) {
            try {
                audit.close();
            } catch (IOException ignored) {
                // it is being replaced
            }
            audit = null;
        }
    }

    /** Lines from a stream; a read that times out loses nothing (unlike BufferedReader.readLine). */
    static final class LineReader {
        private final InputStream in;
        private final byte[] buf = new byte[8192];
        private int start;
        private int end;
        private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

        LineReader(InputStream in) {
            this.in = in;
        }

        /** The next line, or null at the end of the stream; may throw SocketTimeoutException. */
        String readLine() throws IOException {
            while (true) {
                for (int i = start; i < end; i++) {
                    if (buf[i] == '\n') {
                        partial.write(buf, start, i - start);
                        start = i + 1;
                        String line = partial.toString(StandardCharsets.UTF_8);
                        partial.reset();
                        return line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
                    }
                }
                partial.write(buf, start, end - start);
                start = 0;
                end = 0;
                int n = in.read(buf, 0, buf.length);
                if (n < 0) {
                    return null;
                }
                end = n;
            }
        }

        /** Like readLine, but waits through read timeouts. */
        String readLineWaiting() throws IOException {
            while (true) {
                try {
                    return readLine();
                } catch (SocketTimeoutException e) {
                    // keep waiting
                }
            }
        }

        /** Whether more input is waiting: a whole line buffered, or bytes in the socket. */
        boolean ready() throws IOException {
            for (int i = start; i < end; i++) {
                if (buf[i] == '\n') {
                    return true;
                }
            }
            return in.available() > 0;
        }
    }
}
