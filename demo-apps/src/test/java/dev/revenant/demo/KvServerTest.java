package dev.revenant.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedInputStream;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The protocol of {@link KvServer}, spoken over real sockets to a server in a child JVM (as users
 * and the benchmark harness run it). One server for the whole class; each test uses its own keys.
 */
class KvServerTest {

    private static final String ID = "[0-9a-f]{16}";
    private static final Pattern LISTENING = Pattern.compile("kv listening on (\\d+)");

    private static Process server;
    private static int port;

    @BeforeAll
    static void startServer() throws Exception {
        Path classes = Path.of(KvServer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        server = new ProcessBuilder(java, "-Xmx64m", "-cp", classes.toString(), KvServer.class.getName(), "0")
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
        BufferedReader stdout = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> firstLine = CompletableFuture.supplyAsync(() -> {
            try {
                return stdout.readLine();
            } catch (IOException e) {
                return null;
            }
        });
        String line;
        try {
            line = firstLine.get(60, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            server.destroyForcibly();
            throw new AssertionError("KvServer did not print its listening line within 60 s");
        }
        assertThat(line).as("first line of KvServer's stdout").isNotNull();
        Matcher m = LISTENING.matcher(line);
        assertThat(m.matches()).as("listening line: %s", line).isTrue();
        port = Integer.parseInt(m.group(1));
        assertThat(port).isPositive();
    }

    @AfterAll
    static void stopServer() throws Exception {
        if (server != null) {
            server.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
    }

    @AfterEach
    void serverStillRuns() {
        assertThat(server.isAlive()).as("KvServer is still running").isTrue();
    }

    @Test
    void everyCommand() throws IOException {
        try (Client c = new Client()) {
            assertThat(c.call("PING")).isEqualTo("PONG");

            String first = c.call("SET color blue");
            assertThat(first).matches("OK " + ID);
            assertThat(c.call("GET color")).isEqualTo("VALUE blue " + first.substring(3));
            String second = c.call("SET color green");
            assertThat(second).matches("OK " + ID).isNotEqualTo(first);
            assertThat(c.call("GET color")).isEqualTo("VALUE green " + second.substring(3));
            assertThat(c.call("GET no-such-key")).isEqualTo("NIL");

            assertThat(c.call("INCR counter")).isEqualTo("INT 1");
            assertThat(c.call("INCR counter")).isEqualTo("INT 2");
            assertThat(c.call("GET counter")).matches("VALUE 2 " + ID);
            assertThat(c.call("SET answer 41")).matches("OK " + ID);
            assertThat(c.call("INCR answer")).isEqualTo("INT 42");
            assertThat(c.call("SET negative -7")).matches("OK " + ID);
            assertThat(c.call("INCR negative")).isEqualTo("INT -6");

            String word = c.call("SET word abc");
            assertThat(c.call("INCR word")).isEqualTo("ERR not an integer");
            assertThat(c.call("GET word")).isEqualTo("VALUE abc " + word.substring(3));
            assertThat(c.call("SET big 9223372036854775807")).matches("OK " + ID);
            assertThat(c.call("INCR big")).isEqualTo("ERR not an integer");

            assertThat(c.call("DEL color")).isEqualTo("DELETED 1");
            assertThat(c.call("DEL color")).isEqualTo("DELETED 0");
            assertThat(c.call("GET color")).isEqualTo("NIL");

            String unicode = c.call("SET ключ значение");
            assertThat(c.call("GET ключ")).isEqualTo("VALUE значение " + unicode.substring(3));

            c.write("PING\r\n");
            assertThat(c.readLine()).isEqualTo("PONG");
            for (String bad : new String[] {"FLY away", "", "get color", "SET lonely", "GET a b", "PING now",
                "SET k v soon", "SET k v -5", "DEL", "INCR a b"}) {
                assertThat(c.call(bad)).as("reply to '%s'", bad).isEqualTo("ERR unknown command");
            }
        }
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws IOException {
        try (Client c = new Client()) {
            c.write("SET pipe 10\nGET pipe\nINCR pipe\nPING\nGET pipe-missing\nDEL pipe\nGET pipe\n");
            String ok = c.readLine();
            assertThat(ok).matches("OK " + ID);
            assertThat(c.readLine()).isEqualTo("VALUE 10 " + ok.substring(3));
            assertThat(c.readLine()).isEqualTo("INT 11");
            assertThat(c.readLine()).isEqualTo("PONG");
            assertThat(c.readLine()).isEqualTo("NIL");
            assertThat(c.readLine()).isEqualTo("DELETED 1");
            assertThat(c.readLine()).isEqualTo("NIL");

            // Many requests in one write, more than one read's worth for the server.
            StringBuilder batch = new StringBuilder();
            for (int i = 0; i < 5000; i++) {
                batch.append("INCR pipe-count\n");
            }
            c.write(batch.toString());
            for (int i = 1; i <= 5000; i++) {
                assertThat(c.readLine()).isEqualTo("INT " + i);
            }
        }
    }

    @Test
    void requestSplitAcrossWrites() throws IOException {
        try (Client c = new Client()) {
            byte[] e = "é".getBytes(StandardCharsets.UTF_8);
            // The PONG proves the server has read the first part (same write, same segment), so
            // the rest arrives in a later read; the split falls inside a two-byte character.
            c.write(concat("PING\nSET split h".getBytes(StandardCharsets.UTF_8), new byte[] {e[0]}));
            assertThat(c.readLine()).isEqualTo("PONG");
            c.write(concat(new byte[] {e[1]}, "llo\n".getBytes(StandardCharsets.UTF_8)));
            String ok = c.readLine();
            assertThat(ok).matches("OK " + ID);
            assertThat(c.call("GET split")).isEqualTo("VALUE héllo " + ok.substring(3));

            // A \r at the end of one read and its \n at the start of the next.
            c.write("PING\nPING\r");
            assertThat(c.readLine()).isEqualTo("PONG");
            c.write("\n");
            assertThat(c.readLine()).isEqualTo("PONG");
        }
    }

    @Test
    void keysExpire() throws Exception {
        try (Client c = new Client()) {
            long sent = System.nanoTime();
            String ok = c.call("SET fleeting here 200");
            assertThat(ok).matches("OK " + ID);
            String now = c.call("GET fleeting");
            if (elapsedMillis(sent) < 150) {
                assertThat(now).isEqualTo("VALUE here " + ok.substring(3));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!c.call("GET fleeting").equals("NIL")) {
                if (System.nanoTime() > deadline) {
                    fail("a key with a ttl of 200 ms was still there after 10 s");
                }
                Thread.sleep(5);  // pacing of the poll only
            }
            assertThat(elapsedMillis(sent)).as("ms until the key was gone").isGreaterThanOrEqualTo(190);
            // Once expired it counts as missing for every command.
            assertThat(c.call("DEL fleeting")).isEqualTo("DELETED 0");
            assertThat(c.call("SET gone-counter 5 0")).matches("OK " + ID);
            assertThat(c.call("INCR gone-counter")).isEqualTo("INT 1");
            // A later SET without ttl makes the key permanent again.
            assertThat(c.call("SET kept v 0")).matches("OK " + ID);
            String kept = c.call("SET kept w");
            assertThat(c.call("GET kept")).isEqualTo("VALUE w " + kept.substring(3));
        }
    }

    @Test
    void connectionsSeeEachOthersWrites() throws IOException {
        try (Client a = new Client(); Client b = new Client()) {
            String ok = a.call("SET shared from-a");
            assertThat(b.call("GET shared")).isEqualTo("VALUE from-a " + ok.substring(3));
            assertThat(b.call("INCR shared-n")).isEqualTo("INT 1");
            assertThat(a.call("INCR shared-n")).isEqualTo("INT 2");
            assertThat(b.call("DEL shared")).isEqualTo("DELETED 1");
            assertThat(a.call("GET shared")).isEqualTo("NIL");
        }
    }

    @Test
    void misbehavingClientsDoNotHurtOthers() throws IOException {
        try (Client steady = new Client()) {
            assertThat(steady.call("SET steady yes")).matches("OK " + ID);

            Client resetter = new Client();
            resetter.write("SET half-way");
            resetter.socket.setSoLinger(true, 0);  // close with a reset, mid-request
            resetter.close();

            Client garbage = new Client();
            garbage.write(new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1, '\n'});
            assertThat(garbage.readLine()).isEqualTo("ERR unknown command");
            garbage.close();

            // A client that stops sending still gets the replies to what it sent, then EOF.
            try (Client leaver = new Client()) {
                leaver.write("PING\nGET steady\n");
                leaver.socket.shutdownOutput();
                assertThat(leaver.readLine()).isEqualTo("PONG");
                assertThat(leaver.readLine()).startsWith("VALUE yes ");
                assertThat(leaver.readLine()).as("end of stream").isNull();
            }

            assertThat(steady.call("GET half-way")).isEqualTo("NIL");
            assertThat(steady.call("PING")).isEqualTo("PONG");
        }
    }

    private static long elapsedMillis(long startNanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = new byte[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** A blocking client that reads replies byte by byte up to each newline. */
    private static final class Client implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;

        Client() throws IOException {
            socket = new Socket(InetAddress.getLoopbackAddress(), port);
            socket.setSoTimeout(10_000);
            socket.setTcpNoDelay(true);
            in = new BufferedInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        String call(String request) throws IOException {
            write(request + "\n");
            return readLine();
        }

        void write(String text) throws IOException {
            write(text.getBytes(StandardCharsets.UTF_8));
        }

        void write(byte[] bytes) throws IOException {
            out.write(bytes);
            out.flush();
        }

        /** The next reply without its newline, or null at end of stream. */
        String readLine() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            for (int b; (b = in.read()) != '\n'; ) {
                if (b < 0) {
                    return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
                }
                line.write(b);
            }
            return line.toString(StandardCharsets.UTF_8);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
