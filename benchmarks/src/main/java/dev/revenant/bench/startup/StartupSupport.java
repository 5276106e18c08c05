package dev.revenant.bench.startup;

import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * What the start-up benchmark's classes share: medians, CPU time of child processes from
 * {@code /proc}, the load average, files, JSON literals. JDK types only.
 */
final class StartupSupport {

    /** Clock ticks per second of {@code /proc/.../stat} ({@code getconf CLK_TCK}; 100 on Linux x86). */
    static final double TICKS_PER_SECOND = 100;

    private StartupSupport() {
    }

    static double median(double[] sorted) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /**
     * CPU time (user + system, ms) of this JVM's children that have exited and been waited for:
     * {@code cutime + cstime} of {@code /proc/self/stat}, which is what {@code getrusage(RUSAGE_CHILDREN)}
     * reports, in clock ticks (10 ms). The difference across one run whose child was reaped (and
     * which started no other child) is that child's CPU time, all its threads, exit included.
     */
    static double reapedChildrenCpuMillis() {
        return statCpuMillis("self", 13, 14);
    }

    /** CPU time (user + system, ms, all threads) that the live process {@code pid} has used so far. */
    static double processCpuMillis(long pid) {
        return statCpuMillis(Long.toString(pid), 11, 12);
    }

    /** Sum of two fields of /proc/<pid>/stat (indices counted after the ") " that ends the name, from 0). */
    private static double statCpuMillis(String pid, int a, int b) {
        try {
            String stat = Files.readString(Path.of("/proc", pid, "stat"));
            String[] f = stat.substring(stat.lastIndexOf(") ") + 2).trim().split(" ");
            return (Long.parseLong(f[a]) + Long.parseLong(f[b])) * 1000 / TICKS_PER_SECOND;
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    /** A port that was free a moment ago (the server is told to bind it). */
    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        }
    }

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "?";
        }
    }

    static String javaVersion(String java) {
        try {
            Process p = new ProcessBuilder(java, "-version").redirectErrorStream(true).start();
            String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            return s.lines().findFirst().orElse("?").trim();
        } catch (IOException | InterruptedException e) {
            return "?";
        }
    }

    /** A child's environment: no options from the environment, the agent's phase timing on. */
    static ProcessBuilder processBuilder(List<String> cmd) {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        pb.environment().put("REVENANT_DEBUG_STARTUP", "1");
        return pb;
    }

    static Thread drainer(InputStream in, StringBuilder into) {
        Thread t = new Thread(() -> {
            try {
                String s = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                synchronized (into) {
                    into.append(s);
                }
            } catch (IOException ignored) {
                // process gone
            }
        });
        t.setDaemon(true);
        t.start();
        return t;
    }

    static void printTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            System.out.println("  (missing)");
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted()::iterator) {
                String perms;
                try {
                    perms = PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
                } catch (UnsupportedOperationException e) {
                    perms = "?";
                }
                String rel = dir.relativize(p).toString();
                System.out.printf(Locale.ROOT, "  %s %12s  %s%s%n", perms,
                    Files.isDirectory(p) ? "-" : String.valueOf(Files.size(p)), rel.isEmpty() ? "." : rel,
                    Files.isDirectory(p) ? "/" : "");
            }
        }
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk.sorted((a, b) -> b.getNameCount() - a.getNameCount())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    static String num(double d) {
        return Double.isNaN(d) ? "null" : String.format(Locale.ROOT, "%.1f", d);
    }

    static String q(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
