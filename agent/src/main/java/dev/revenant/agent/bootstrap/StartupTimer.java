package dev.revenant.agent.bootstrap;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Phase timer of the agent's start-up. With {@code REVENANT_DEBUG_STARTUP=1} (or
 * {@code -Drevenant.debug.startup=true}) {@link #report} prints one line on stderr: the JVM's
 * uptime when premain began, each phase in milliseconds, and how many classes the agent loader
 * defined. With {@code -Drevenant.startup.classlist=<file>} it also writes the agent loader's
 * classes to that file, in the order {@link AgentClassLoader#preloadOrder} gives (how the jar's
 * preload list is made).
 *
 * <p>References only JDK types; measuring costs one {@code System.nanoTime()} per phase.
 */
final class StartupTimer {
    private final String what;
    private final long start = System.nanoTime();
    private long last = start;
    private final List<String> names = new ArrayList<>();
    private final List<Long> nanos = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    StartupTimer(String what) {
        this.what = what;
    }

    static boolean enabled() {
        return "1".equals(System.getenv("REVENANT_DEBUG_STARTUP")) || Boolean.getBoolean("revenant.debug.startup");
    }

    static boolean recordingClassList() {
        return System.getProperty("revenant.startup.classlist") != null;
    }

    void phase(String name) {
        long now = System.nanoTime();
        names.add(name);
        nanos.add(now - last);
        last = now;
    }

    void note(String text) {
        notes.add(text);
    }

    long total() {
        return last - start;
    }

    /** Time from the start up to the end of phase {@code name} (or the total if there is none). */
    long upTo(String name) {
        long t = 0;
        for (int i = 0; i < names.size(); i++) {
            t += nanos.get(i);
            if (names.get(i).equals(name)) {
                return t;
            }
        }
        return t;
    }

    void report(ClassLoader loader) {
        String listFile = System.getProperty("revenant.startup.classlist");
        if (listFile != null && loader instanceof AgentClassLoader) {
            try {
                Files.write(Path.of(listFile), ((AgentClassLoader) loader).preloadOrder(), StandardCharsets.UTF_8);
            } catch (IOException | RuntimeException e) {
                System.err.println("revenant: could not write the class list " + listFile + ": " + e);
            }
        }
        if (!enabled()) {
            return;
        }
        StringBuilder sb = new StringBuilder("revenant startup: ").append(what);
        long uptimeAtEnd = ManagementFactory.getRuntimeMXBean().getUptime();
        sb.append(" began at JVM uptime ").append(uptimeAtEnd - Math.round(total() / 1e6)).append(" ms;");
        for (int i = 0; i < names.size(); i++) {
            sb.append(' ').append(names.get(i)).append(' ').append(Premain.ms(nanos.get(i))).append(" ms;");
        }
        sb.append(" total ").append(Premain.ms(total())).append(" ms");
        if (loader instanceof AgentClassLoader) {
            sb.append("; classes defined by the agent loader: ").append(((AgentClassLoader) loader).definedCount());
        }
        for (String n : notes) {
            sb.append("; ").append(n);
        }
        System.err.println(sb);
        System.err.flush();
    }
}
