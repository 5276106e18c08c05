package dev.revenant.it;

import java.io.PrintStream;
import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.BufferedOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import dev.revenant.log.LogOptions;
import dev.revenant.log.LogWriter;
import dev.revenant.log.RecordTypes;

/**
 * A writer process for crash tests: N threads append records and wait for each to be stable;
 * after {@code awaitStable} returns it prints {@code ACK thread seq position} on stdout. Whatever
 * the test saw acknowledged must survive a kill -9 followed by a power cut.
 *
 * <p>Arguments: {@code logDir threads [skipForce] [stallAt=POS] [every=N]}. Prints {@code READY} once
 * the log is open.
 */
public final class StressWriter {
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]);
        LogOptions o = new LogOptions().segmentBytes(256 << 10).blockSize(256 << 10);
        int every = 1;
        for (int i = 2; i < args.length; i++) {
            if (args[i].equals("skipForce")) {
                o.unsafeSkipForce();
            } else if (args[i].startsWith("stallAt=")) {
                o.testStallInsideAppendAt(Long.parseLong(args[i].substring(8)));
            } else if (args[i].startsWith("every=")) {
                every = Integer.parseInt(args[i].substring(6));
            }
        }
        PrintStream out = new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16),
                false);
        LogWriter w;
        try {
            w = LogWriter.open(dir, o);
        } catch (Exception e) {
            System.out.println("OPEN-FAILED " + e.getMessage());
            System.out.flush();
            System.exit(1);
            return;
        }
        synchronized (out) {
            out.println("READY " + w.sessionStart());
            out.flush();
        }
        final int waitEvery = every;
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long tid = t + 1;
            Thread th = new Thread(() -> {
                try {
                    for (long seq = 0; ; seq++) {
                        long p = w.append(RecordTypes.NOTE, tid, seq, payload(tid, seq));
                        if (p < 0) {
                            return;
                        }
                        if (seq % waitEvery == 0) {
                            w.awaitStable(p);
                            synchronized (out) {
                                out.println("ACK " + tid + " " + seq + " " + p);
                                out.flush();
                            }
                        }
                    }
                } catch (Exception e) {
                    synchronized (out) {
                        out.println("ERROR " + e);
                        out.flush();
                    }
                }
            }, "app-" + tid);
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) {
            th.join();
        }
    }

    /** Deterministic payload, so a reader can check every byte. Size varies to exercise framing. */
    public static byte[] payload(long thread, long seq) {
        int len = 16 + (int) ((thread * 7 + seq) % 48);
        ByteBuffer b = ByteBuffer.allocate(len);
        b.putLong(thread).putLong(seq);
        while (b.hasRemaining()) {
            b.put((byte) (thread * 31 + seq + b.position()));
        }
        return b.array();
    }
}
