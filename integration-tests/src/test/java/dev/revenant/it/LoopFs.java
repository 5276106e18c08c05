package dev.revenant.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A small ext4 file system in a file, loop-mounted for one test (root only; CI runs as root).
 * It is mounted with {@code errors=remount-ro}, so {@link #breakIt()} can turn it read-only under a
 * running writer the way a failing disk does. Nothing here skips: a machine that cannot mount
 * fails the test with the command's own message.
 */
final class LoopFs implements AutoCloseable {
    final Path image;
    final Path dir;
    private boolean mounted;

    private LoopFs(Path image, Path dir) {
        this.image = image;
        this.dir = dir;
    }

    static LoopFs mount(Path where, int mebibytes) throws Exception {
        Path image = where.resolve("fs.img");
        Path dir = Files.createDirectories(where.resolve("mnt"));
        LoopFs fs = new LoopFs(image, dir);
        run("truncate", "-s", mebibytes + "M", image.toString());
        run("mkfs.ext4", "-q", "-F", "-m", "0", image.toString());
        fs.mountAgain();
        return fs;
    }

    void mountAgain() throws Exception {
        run("mount", "-o", "loop,errors=remount-ro", image.toString(), dir.toString());
        mounted = true;
    }

    void unmount() throws Exception {
        if (mounted) {
            run("umount", dir.toString());
            mounted = false;
        }
    }

    /** The loop device behind the mount, e.g. {@code loop3}. */
    String device() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/mounts"))) {
            String[] f = l.split(" ");
            if (f.length > 1 && f[1].equals(dir.toString())) {
                return Path.of(f[0]).getFileName().toString();
            }
        }
        throw new AssertionError(dir + " is not in /proc/mounts");
    }

    boolean readOnly() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/mounts"))) {
            String[] f = l.split(" ");
            if (f.length > 3 && f[1].equals(dir.toString())) {
                // Newer kernels keep "rw" and add "emergency_ro" when an ext4 error turned the file system read-only.
                List<String> o = List.of(f[3].split(","));
                return o.contains("ro") || o.contains("emergency_ro");
            }
        }
        return false;
    }

    /**
     * Raises an ext4 error on the mounted file system (the kernel's own test hook); with
     * {@code errors=remount-ro} the kernel turns it read-only at once, open files and all, as it
     * does when the disk under it fails. (A plain {@code mount -o remount,ro} is refused while a
     * file is open for writing.)
     */
    void breakIt() throws Exception {
        Path trigger = Path.of("/sys/fs/ext4", device(), "trigger_fs_error");
        if (!Files.exists(trigger)) {
            throw new AssertionError("cannot make " + dir + " read-only: " + trigger + " is missing (kernel without ext4 "
                    + "sysfs error trigger)");
        }
        Files.writeString(trigger, "revenant-test\n");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!readOnly()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(dir + " did not turn read-only after an ext4 error");
            }
            Thread.sleep(10);
        }
    }

    /** Fills the file system to the last block with {@code name}; returns the bytes written. */
    long fill(String name) throws IOException {
        Path f = dir.resolve(name);
        long n = 0;
        byte[] big = new byte[1 << 20];
        byte[] small = new byte[4096];
        try (var out = Files.newOutputStream(f)) {
            try {
                while (true) {
                    out.write(big);
                    n += big.length;
                }
            } catch (IOException full) {
                // now the last blocks, a page at a time
            }
            try {
                while (true) {
                    out.write(small);
                    n += small.length;
                }
            } catch (IOException full) {
                // full
            }
        } catch (IOException closing) {
            // the close may report the same ENOSPC
        }
        return n;
    }

    static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError("`" + String.join(" ", cmd) + "` failed" + (p.isAlive() ? " (timed out)" : " (exit "
                    + p.exitValue() + ")") + ": " + out + " — the disk-full tests need root and loop devices "
                    + "(`mount -o loop`); they do not skip");
        }
        return out;
    }

    @Override
    public void close() throws Exception {
        if (mounted) {
            try {
                run("umount", dir.toString());
            } catch (AssertionError busy) {
                run("umount", "-l", dir.toString());
            }
            mounted = false;
        }
        Files.deleteIfExists(image);
    }

    static List<String> argsOf(String... a) {
        return new ArrayList<>(List.of(a));
    }
}
