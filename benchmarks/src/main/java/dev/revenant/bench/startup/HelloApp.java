package dev.revenant.bench.startup;

/**
 * The trivial application of {@link StartupBenchmark}: prints the wall clock and the CPU time the
 * JVM has used at the moment {@code main} starts, then "hello". References JDK types only, so it
 * runs from a directory holding nothing but this class.
 */
public final class HelloApp {
    private HelloApp() {
    }

    public static void main(String[] args) {
        long wall = System.currentTimeMillis();
        long cpuNanos = ProcessHandle.current().info().totalCpuDuration().map(java.time.Duration::toNanos).orElse(-1L);
        System.out.println("main-entry wallMillis=" + wall + " cpuNanos=" + cpuNanos);
        System.out.println("hello");
    }
}
