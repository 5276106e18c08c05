package dev.revenant.log;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The stable watermark kept beside the log, in {@value #FILE}: the highest position the writer
 * has reported stable, persisted so that a log cut short below it (a lost or truncated segment,
 * stable marks included) is seen as damage and not mistaken for the torn tail of a crash.
 *
 * <p>Two 32-byte slots are written alternately, so a write torn by a power cut leaves the other
 * slot intact; a reader takes the valid slot with the higher generation:
 * <pre>
 *  0       4       8                16               24      28      32
 *  +-------+-------+----------------+----------------+-------+-------+
 *  | magic | (0)   | generation u64 | position u64   | crc   | (0)   |
 *  +-------+-------+----------------+----------------+-------+-------+
 * </pre>
 * The file lags the writer (it is written after the force that made a position stable, from a
 * background thread); it never runs ahead of it.
 */
final class StableWatermarkFile implements AutoCloseable {
    static final String FILE = "stable.watermark";
    private static final int MAGIC = 0x4D575652; // "RVWM"
    private static final int SLOT = 32;

    private final FileChannel channel;
    private long generation;
    private long persisted = -1;

    private StableWatermarkFile(FileChannel channel, long generation, long persisted) {
        this.channel = channel;
        this.generation = generation;
        this.persisted = persisted;
    }

    static StableWatermarkFile open(Path dir) throws IOException {
        Path f = dir.resolve(FILE);
        boolean created = !Files.exists(f);
        FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        LogDirectory.restrictFile(f);
        long[] found = readSlots(ch);
        if (created) {
            LogDirectory.fsyncDirectory(dir);
        }
        return new StableWatermarkFile(ch, Math.max(0, found[0]), found[1]);
    }

    /** The persisted watermark of a log directory, -1 if none. */
    static long read(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir.resolve(FILE), StandardOpenOption.READ)) {
            return readSlots(ch)[1];
        } catch (NoSuchFileException e) {
            return -1;
        }
    }

    /** Returns {generation, position} of the best valid slot, or {-1, -1}. */
    private static long[] readSlots(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(2 * SLOT).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining() && ch.read(b, b.position()) > 0) {
            // read both slots
        }
        long bestGen = -1;
        long bestPos = -1;
        for (int s = 0; s < 2; s++) {
            int o = s * SLOT;
            if (b.position() < o + SLOT || b.getInt(o) != MAGIC) {
                continue;
            }
            long gen = b.getLong(o + 8);
            long pos = b.getLong(o + 16);
            if (b.getInt(o + 24) == crc(gen, pos) && gen > bestGen) {
                bestGen = gen;
                bestPos = pos;
            }
        }
        return new long[] {bestGen, bestPos};
    }

    private static int crc(long gen, long pos) {
        CRC32C c = new CRC32C();
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(gen).putLong(pos);
        c.update(b.array());
        return (int) c.getValue();
    }

    long persisted() {
        return persisted;
    }

    /** Writes and forces {@code position} if it is higher than what the file holds. */
    void persist(long position, boolean force) throws IOException {
        if (position <= persisted) {
            return;
        }
        long gen = ++generation;
        ByteBuffer b = ByteBuffer.allocate(SLOT).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(MAGIC).putInt(0).putLong(gen).putLong(position).putInt(crc(gen, position)).putInt(0).flip();
        long at = (gen & 1) * SLOT;
        while (b.hasRemaining()) {
            at += channel.write(b, at);
        }
        if (force) {
            channel.force(false);
        }
        persisted = position;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
