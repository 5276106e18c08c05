package benchapp;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The agent's hot paths, measured as the app sees them: the same benchmark methods run in a JVM
 * without the agent and in one started with {@code -javaagent:revenant-agent.jar=...,commit=none}
 * ({@code benchmarks/run-agent-benchmarks.sh} runs both, interleaved, and prints the ratios).
 * Nothing here refers to the agent: the agent rewrites this class's {@code System.nanoTime()} and
 * {@code currentTimeMillis()} call sites and records the socket reads, exactly as in an app.
 *
 * <ul>
 * <li>{@code nanoTime}, {@code currentTimeMillis}: one clock determinant (value recorded into the
 *     log's ring, written and forced by the writer thread in the background) against the raw call.</li>
 * <li>{@code socketRoundTrip}: {@code size} bytes written on one end of a loopback connection and
 *     read on the other; under the agent the read is one socket determinant carrying the bytes.
 *     {@code commit=none}, so that the write is not held for a force: this is the recording cost,
 *     the output commit's cost is what the end-to-end benchmark measures.</li>
 * </ul>
 *
 * A scheduler switch has no benchmark yet: this version records no thread interleavings.
 *
 * <p>It lives outside {@code dev.revenant}: the agent never rewrites its own classes, and this one
 * must be treated as app code.
 */
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class AgentHotPathBenchmark {

    @Benchmark
    public long nanoTime() {
        return System.nanoTime();
    }

    @Benchmark
    public long currentTimeMillis() {
        return System.currentTimeMillis();
    }

    /** A connected loopback pair (blocking), and buffers of {@code size} bytes. */
    @State(Scope.Thread)
    public static class Pair {
        @Param({"1024", "16384"})
        public int size;
        ServerSocketChannel server;
        SocketChannel out;
        SocketChannel in;
        ByteBuffer send;
        ByteBuffer receive;

        @Setup(Level.Trial)
        public void open() throws IOException {
            server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            out = SocketChannel.open(server.getLocalAddress());
            in = server.accept();
            out.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
            send = ByteBuffer.allocateDirect(size);
            receive = ByteBuffer.allocateDirect(size);
            while (send.hasRemaining()) {
                send.put((byte) ('a' + send.position() % 26));
            }
        }

        @TearDown(Level.Trial)
        public void close() throws IOException {
            in.close();
            out.close();
            server.close();
        }
    }

    @Benchmark
    public int socketRoundTrip(Pair p) throws IOException {
        p.send.clear();
        while (p.send.hasRemaining()) {
            p.out.write(p.send);
        }
        p.receive.clear();
        while (p.receive.hasRemaining()) {
            if (p.in.read(p.receive) < 0) {
                throw new IOException("closed");
            }
        }
        return p.receive.get(p.size - 1);
    }
}
