package dev.revenant.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The socket hooks the agent writes into the JDK in plain ASM (its own stack map frames included)
 * pass the JVM's bytecode verifier. The JVM verifies a class the agent retransforms, but not one of
 * the boot loader it rewrites as it loads (the JDK's own are trusted), so most socket classes
 * would run with wrong frames and nobody would notice until a JDK verified them. Here the app runs
 * with {@code -XX:+BytecodeVerificationLocal}, which verifies the boot loader's classes too, and
 * uses every rewritten socket class: {@code Socket}/{@code ServerSocket} ({@code NioSocketImpl}),
 * blocking and non-blocking channels with a selector, a non-blocking connect and
 * {@code finishConnect}, the channels' socket adaptors, and a datagram channel (warned about).
 */
class SocketHooksVerifyIT {
    @TempDir
    Path tmp;

    @Test
    void everyRewrittenSocketClassPassesTheVerifierAndWorks() throws Exception {
        Cli.compileApp(tmp, "SockAll", """
                import java.net.*;
                import java.nio.ByteBuffer;
                import java.nio.channels.*;

                public class SockAll {
                    public static void main(String[] a) throws Exception {
                        try (ServerSocket ss = new ServerSocket(0); Socket c = new Socket("127.0.0.1", ss.getLocalPort());
                             Socket s = ss.accept()) {
                            c.getOutputStream().write("hi\\n".getBytes());
                            byte[] b = new byte[3];
                            int n = s.getInputStream().read(b);
                            System.out.println("socket " + new String(b, 0, n).trim() + " " + s.getInputStream().available()
                                    + " " + c.getLocalAddress().isLoopbackAddress());
                            c.shutdownOutput();
                        }
                        try (ServerSocketChannel ssc = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
                             Selector sel = Selector.open()) {
                            SocketChannel c = SocketChannel.open();
                            c.configureBlocking(false);
                            c.connect(ssc.getLocalAddress());
                            SocketChannel s = ssc.accept();
                            while (!c.finishConnect()) {
                                Thread.onSpinWait();
                            }
                            c.write(ByteBuffer.wrap("yo".getBytes()));
                            s.configureBlocking(false);
                            s.register(sel, SelectionKey.OP_READ);
                            ByteBuffer bb = ByteBuffer.allocate(2);
                            while (bb.hasRemaining()) {
                                sel.select(1000);
                                s.read(bb);
                            }
                            System.out.println("nio " + new String(bb.array()) + " "
                                    + s.getRemoteAddress().equals(c.getLocalAddress()));
                            c.shutdownOutput();
                            c.close();
                            s.close();
                            try (SocketChannel bc = SocketChannel.open(ssc.getLocalAddress()); SocketChannel bs = ssc.accept()) {
                                bc.socket().getOutputStream().write(7);
                                System.out.println("adaptor " + bs.socket().getInputStream().read());
                            }
                        }
                        try (DatagramChannel d = DatagramChannel.open()) {
                            System.out.println("datagram opened");
                        }
                    }
                }
                """);
        Path log = tmp.resolve("log");
        List<String> cmd = List.of(JavaProcess.javaBin(), "-XX:+UnlockDiagnosticVMOptions",
                "-XX:+BytecodeVerificationLocal", "-javaagent:" + Cli.agentJar() + "=log=" + log, "-cp",
                tmp.toString(), "SockAll");
        try (JavaProcess p = JavaProcess.start(Map.of(), cmd)) {
            p.await(l -> l.equals("datagram opened"), 120);
            assertThat(p.awaitErr(l -> l.contains("sun.nio.ch.DatagramChannelImpl, which this version does not record"), 30))
                    .as("the datagram channel is warned about").isNotNull();
            assertThat(p.waitForExit(60)).as(String.join("\n", p.errLines)).isZero();
            assertThat(p.lines).containsExactly("socket hi 0 true", "nio yo true", "adaptor 7", "datagram opened");
            assertThat(p.errLines).noneMatch(l -> l.contains("VerifyError") || l.contains("revenant: ERROR"));
        }
        Cli.Result r = Cli.run("verify", "--log", log.toString());
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
    }
}
