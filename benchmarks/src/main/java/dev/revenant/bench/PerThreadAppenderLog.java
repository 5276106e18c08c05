package dev.revenant.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

import dev.revenant.log.RecordDescriptor;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.queue.rollcycles.LargeRollCycles;
import net.openhft.chronicle.wire.DocumentContext;

/**
 * The alternative append strategy, for comparison with the ring writer: every producer thread
 * writes into the queue itself through its own Chronicle appender (appenders are bound to the
 * thread that created them), one record per Chronicle document.
 *
 * <p>Dense positions in file order come from taking the next position <em>inside</em>
 * {@code writingDocument()}: Chronicle holds its queue-wide write lock from the opening of the
 * document context until it closes, so the order positions are taken in is the order the
 * documents land in the file. The record is encoded (header, payload copy, CRC32C over both) in
 * the critical section too, because the CRC covers the position.
 *
 * <p>Not durable by itself: it never forces the file (the queue runs with {@code SyncMode.NONE}
 * like the project's writer, which forces separately). It is a benchmark subject, not a log.
 */
public final class PerThreadAppenderLog implements AppendLog {
    private final SingleChronicleQueue queue;
    private final int epoch;
    private final AtomicLong next = new AtomicLong();
    private final List<ExcerptAppender> appenders = new CopyOnWriteArrayList<>();
    private final ThreadLocal<Local> local;

    /** One thread's appender and encoding scratch space. */
    private static final class Local {
        final ExcerptAppender appender;
        byte[] scratch = new byte[1024];

        Local(ExcerptAppender appender) {
            this.appender = appender;
        }
    }

    public PerThreadAppenderLog(Path dir, int epoch) {
        System.setProperty("chronicle.analytics.disable", "true");
        this.epoch = epoch;
        // The same queue settings LogWriter uses (it adds only its own time provider for rolling).
        this.queue = SingleChronicleQueueBuilder.binary(dir)
                .rollCycle(LargeRollCycles.LARGE_DAILY)
                .blockSize(16L << 20)
                .syncMode(SyncMode.NONE)
                .build();
        this.local = ThreadLocal.withInitial(() -> {
            ExcerptAppender a = queue.createAppender();
            appenders.add(a);
            return new Local(a);
        });
    }

    @Override
    public long append(int type, long thread, long threadSeq, byte[] payload) {
        Local l = local.get();
        int size = RecordDescriptor.recordSize(payload.length);
        byte[] s = l.scratch;
        if (s.length < size) {
            l.scratch = s = new byte[Math.max(size, s.length * 2)];
        }
        try (DocumentContext dc = l.appender.writingDocument()) {
            // Under Chronicle's write lock: position order == file order.
            long position = next.getAndIncrement();
            RecordDescriptor.encode(s, 0, type, 0, epoch, position, thread, threadSeq, payload, 0, payload.length);
            dc.wire().bytes().write(s, 0, size);
            return position;
        }
    }

    @Override
    public long writtenPosition() {
        return next.get() - 1;
    }

    @Override
    public void close() throws IOException {
        for (ExcerptAppender a : appenders) {
            try {
                a.close();
            } catch (RuntimeException e) {
                // an appender of a thread that is gone; the queue's close releases it anyway
            }
        }
        queue.close();
    }
}
