package dev.revenant.bench.startup;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;

/**
 * A large class path for the start-up benchmark: {@code lib-NN.jar} files of {@value #JAR_MB} MB
 * each, {@value #ENTRY_KB} KiB entries of random bytes stored uncompressed (so the jars really
 * are that big on disk, as the agent's app fingerprint hashes every class-path file at start),
 * no classes. The app's real class comes before them on the class path. Generated once, from a
 * fixed seed, into a folder that remembers it is complete; a later call only lists it.
 *
 * <pre>
 * java dev.revenant.bench.startup.BigClassPath folder [megabytes]     (prints the class path)
 * </pre>
 */
final class BigClassPath {

    static final int JAR_MB = 10;
    static final int ENTRY_KB = 256;

    private BigClassPath() {
    }

    public static void main(String[] args) throws IOException {
        List<Path> jars = ensure(Path.of(args[0]), args.length > 1 ? Integer.parseInt(args[1]) : 200);
        System.out.println(classPath(jars));
    }

    static String classPath(List<Path> jars) {
        return String.join(java.io.File.pathSeparator, jars.stream().map(Path::toString).toList());
    }

    /** The jars of a class path of about {@code megabytes} MB under {@code dir}, written if missing. */
    static List<Path> ensure(Path dir, int megabytes) throws IOException {
        Path done = dir.resolve("complete-" + megabytes + "mb");
        int count = Math.max(1, megabytes / JAR_MB);
        if (!Files.exists(done)) {
            StartupSupport.deleteRecursively(dir);
            Files.createDirectories(dir);
            Random random = new Random(13);
            byte[] blob = new byte[ENTRY_KB * 1024];
            int entries = JAR_MB * 1024 / ENTRY_KB;
            long t0 = System.nanoTime();
            for (int j = 0; j < count; j++) {
                try (OutputStream file = Files.newOutputStream(dir.resolve(String.format("lib-%02d.jar", j)));
                     JarOutputStream jar = new JarOutputStream(file)) {
                    for (int e = 0; e < entries; e++) {
                        random.nextBytes(blob);
                        CRC32 crc = new CRC32();
                        crc.update(blob);
                        JarEntry entry = new JarEntry(String.format("blob/%02d/%04d.bin", j, e));
                        entry.setMethod(ZipEntry.STORED);
                        entry.setSize(blob.length);
                        entry.setCompressedSize(blob.length);
                        entry.setCrc(crc.getValue());
                        jar.putNextEntry(entry);
                        jar.write(blob);
                        jar.closeEntry();
                    }
                }
            }
            Files.writeString(done, count + " jars of " + JAR_MB + " MB\n");
            System.err.printf("big class path: wrote %d jars (%d MB) into %s in %.1f s%n", count, count * JAR_MB, dir,
                (System.nanoTime() - t0) / 1e9);
        }
        List<Path> jars = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> p.getFileName().toString().endsWith(".jar")).sorted().forEach(jars::add);
        }
        if (jars.size() != count) {
            throw new IOException(dir + " holds " + jars.size() + " jars, expected " + count
                + ": delete it to have it written again");
        }
        return jars;
    }

    /** Bytes of all the files of {@code jars}. */
    static long size(List<Path> jars) throws IOException {
        long n = 0;
        for (Path p : jars) {
            n += Files.size(p);
        }
        return n;
    }
}
