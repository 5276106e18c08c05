package dev.revenant.agent.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Bytes a directory's files take on disk (allocated blocks, not their apparent length: Chronicle
 * segments are sparse files, 64 MiB long when they hold a few KiB). Java has no portable call for
 * a file's block count, so this asks POSIX {@code du -a -k}, as Chronicle's own tools do.
 */
final class DiskUsage {
    /** Allocated bytes by absolute path (files and the directory itself), or null with {@link #problem}. */
    final Map<Path, Long> allocated;
    final String problem;

    private DiskUsage(Map<Path, Long> allocated, String problem) {
        this.allocated = allocated;
        this.problem = problem;
    }

    static DiskUsage of(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        try {
            Process p = new ProcessBuilder("du", "-a", "-k", abs.toString()).redirectError(
                    ProcessBuilder.Redirect.DISCARD).start();
            p.getOutputStream().close();
            Map<Path, Long> sizes = new HashMap<>();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    int tab = line.indexOf('\t');
                    if (tab > 0) {
                        sizes.put(Path.of(line.substring(tab + 1)), Long.parseLong(line.substring(0, tab).trim()) * 1024);
                    }
                }
            }
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new DiskUsage(null, "du did not answer within 30 s");
            }
            if (!sizes.containsKey(abs)) {
                return new DiskUsage(null, "du exited " + p.exitValue() + " without a total for " + abs);
            }
            return new DiskUsage(sizes, null);
        } catch (IOException | NumberFormatException e) {
            return new DiskUsage(null, "du failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new DiskUsage(null, "interrupted");
        }
    }

    /** Allocated bytes of one path, -1 if unknown. */
    long bytesOf(Path file) {
        if (allocated == null) {
            return -1;
        }
        Long v = allocated.get(file.toAbsolutePath().normalize());
        return v == null ? -1 : v;
    }
}
