package dev.revenant.it;

import java.util.ArrayList;
import java.util.List;

/**
 * One case of the fault matrix: counts the checks it makes and prints
 * {@code <case>: N passed, N failed} on stdout when it ends, whatever the outcome, then fails the
 * test with every failed check if there was one. A case goes on after a failed check where it can,
 * so one run shows how much of the case holds.
 */
final class FaultCase implements AutoCloseable {
    private final String name;
    private final long started = System.nanoTime();
    private int passed;
    private final List<String> failures = new ArrayList<>();
    private final List<java.nio.file.Path> keep = new ArrayList<>();

    FaultCase(String name) {
        this.name = name;
    }

    /** Records one check; returns whether it held. */
    boolean check(boolean ok, String what) {
        if (ok) {
            passed++;
        } else {
            failures.add(what);
        }
        return ok;
    }

    int failed() {
        return failures.size();
    }

    /**
     * Asks that {@code dir} (a log in a temporary folder) be copied to
     * {@code target/kept-logs/<case>-<time>/} if the case fails, so that a rare failure can be
     * read with {@code revenant inspect} afterwards.
     */
    void keepOnFailure(java.nio.file.Path dir) {
        keep.add(dir);
    }

    private void copyKept() {
        java.nio.file.Path to = java.nio.file.Path.of("target", "kept-logs",
                name.replaceAll("[^A-Za-z0-9-]+", "_") + "-" + System.currentTimeMillis());
        for (java.nio.file.Path dir : keep) {
            try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.walk(dir)) {
                for (java.nio.file.Path f : (Iterable<java.nio.file.Path>) files::iterator) {
                    java.nio.file.Path t = to.resolve(dir.getFileName().toString()).resolve(dir.relativize(f).toString());
                    if (java.nio.file.Files.isDirectory(f)) {
                        java.nio.file.Files.createDirectories(t);
                    } else {
                        java.nio.file.Files.copy(f, t, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    }
                }
                System.out.println(name + ": log " + dir + " kept at " + to.toAbsolutePath());
            } catch (java.io.IOException e) {
                System.out.println(name + ": could not keep " + dir + ": " + e);
            }
        }
    }

    /** A failure that ends the case (an exception from the scenario itself). */
    void broke(Throwable t) {
        failures.add("the case stopped: " + t);
    }

    @Override
    public void close() {
        System.out.printf("%s: %d passed, %d failed (%d ms)%n", name, passed, failures.size(),
                (System.nanoTime() - started) / 1_000_000);
        System.out.flush();
        if (!failures.isEmpty()) {
            copyKept();
            throw new AssertionError(name + ": " + failures.size() + " check(s) failed:\n  " + String.join("\n  ", failures));
        }
    }

    /** Runs {@code body} as the case named {@code name}: counts its checks, prints the summary, fails if any failed. */
    static void run(String name, Body body) throws Exception {
        FaultCase c = new FaultCase(name);
        try {
            body.run(c);
        } catch (Exception | AssertionError e) {
            c.broke(e);
            e.printStackTrace(System.out);
        } finally {
            c.close();
        }
    }

    interface Body {
        void run(FaultCase c) throws Exception;
    }
}
