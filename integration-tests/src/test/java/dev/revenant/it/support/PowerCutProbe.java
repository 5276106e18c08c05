package dev.revenant.it.support;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Child-process writer for {@link PowerCutTest}: run under the power-cut library, it writes
 * a known mix of forced and unforced data into the watched directory, prints {@code READY}
 * and sleeps until it is killed. The test then knows byte for byte what must survive.
 *
 * <p>Usage: {@code PowerCutProbe <watchDir>}. Every file uses one fill byte per region so a
 * survivor is easy to recognise; see {@link PowerCutTest} for the expected end state.
 */
public final class PowerCutProbe {

    /** msync works on whole pages; the layout below assumes x86-64's 4 KiB. */
    static final int PAGE = 4096;

    /** Mappings are kept reachable until the kill, like a live writer would. */
    private static final List<Object> KEEP = new ArrayList<>();

    private PowerCutProbe() {
    }

    public static void main(String[] args) throws Exception {
        try {
            run(Paths.get(args[0]));
        } catch (Throwable t) {
            t.printStackTrace(System.out);
            System.out.println("FAILED");
            System.out.flush();
            System.exit(2);
        }
        System.out.println("READY");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE); // until SIGKILL
    }

    private static void run(Path dir) throws IOException {
        // FileChannel + force(false) => fdatasync; the tail written afterwards is not durable.
        try (FileChannel ch = create(dir.resolve("channel.dat"))) {
            ch.write(fill('A', 1000));
            ch.force(false);
            ch.write(fill('B', 500));
        }
        // FileChannel + force(true) => fsync.
        try (FileChannel ch = create(dir.resolve("channel-meta.dat"))) {
            ch.write(fill('C', 700));
            ch.force(true);
            ch.write(fill('D', 300));
        }
        // MappedByteBuffer.force() => msync(MS_SYNC) of the whole mapping, then an unforced page.
        {
            FileChannel ch = create(dir.resolve("mapped-all.dat"));
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_WRITE, 0, 3 * PAGE);
            put(map, 0, 'a', PAGE);
            map.force();
            put(map, PAGE, 'b', PAGE);
            KEEP.add(ch);
            KEEP.add(map);
        }
        // force(index, length) => msync of page 2 only: page 0 was never synced, and page 2 is
        // rewritten after the sync, so only page 2's first content may survive.
        {
            FileChannel ch = create(dir.resolve("mapped-range.dat"));
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_WRITE, 0, 3 * PAGE);
            put(map, 0, 'x', PAGE);
            put(map, 2 * PAGE, 'z', PAGE);
            map.force(2 * PAGE, PAGE);
            put(map, 2 * PAGE, 'Z', 16);
            KEEP.add(ch);
            KEEP.add(map);
        }
        // fdatasync on the channel also writes back pages dirtied through the mapping.
        {
            FileChannel ch = create(dir.resolve("mapped-fsync.dat"));
            MappedByteBuffer map = ch.map(FileChannel.MapMode.READ_WRITE, 0, 2 * PAGE);
            put(map, 0, 'm', PAGE);
            ch.force(false);
            put(map, PAGE, 'n', PAGE);
            KEEP.add(ch);
            KEEP.add(map);
        }
        // Written, never forced: its name becomes durable below, its data never does.
        try (FileChannel ch = create(dir.resolve("never-forced.dat"))) {
            ch.write(fill('E', 100));
        }

        // Make the directory entries created so far durable.
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }

        // Data forced, but the directory is not synced again: the whole file must vanish.
        try (FileChannel ch = create(dir.resolve("no-dirent.dat"))) {
            ch.write(fill('F', 100));
            ch.force(true);
        }
    }

    private static FileChannel create(Path file) throws IOException {
        return FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    static ByteBuffer fill(char c, int n) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) c);
        return ByteBuffer.wrap(b);
    }

    private static void put(MappedByteBuffer map, int at, char c, int n) {
        for (int i = 0; i < n; i++) {
            map.put(at + i, (byte) c);
        }
    }
}
