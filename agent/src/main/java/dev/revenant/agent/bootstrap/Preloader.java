package dev.revenant.agent.bootstrap;

import java.util.List;

/**
 * Loads (and links, without initialising) the classes premain is about to need, on a second
 * thread, while premain's own thread works or waits for the disk: the agent defines some two
 * thousand classes before the application's {@code main} runs, and on a two-core machine defining
 * them is a large share of the start-up time.
 *
 * <p>The list is {@value #LIST} in the jar's implementation section, written at build time by a
 * run of the freshly built agent ({@code -Drevenant.startup.classlist}): the classes that run
 * defined, those on the way to the log-opening thread and that thread's own first
 * ({@link AgentClassLoader#preloadOrder}), since the log's opening is the longest path to
 * {@code main}. Loading and linking run no static initialiser, so the order in which the agent's
 * classes initialise is unchanged; a class premain's thread needs while this thread holds it is
 * simply waited for (the loader is parallel capable: one lock per class name). Nobody waits for
 * this thread: premain {@link #stop}s it when it is done, whatever is left unloaded. Before the
 * list it warms two JDK facilities ({@link #warmJdk}).
 *
 * <p>Off with {@code -Drevenant.preload=false}. References only JDK types.
 */
final class Preloader implements Runnable {

    /** Entry (under {@link AgentClassLoader#PREFIX}) with one binary class name per line. */
    static final String LIST = "META-INF/revenant/preload.list";

    private final AgentClassLoader loader;
    private final List<String> names;
    private volatile boolean stopped;
    private volatile int loaded;

    private Preloader(AgentClassLoader loader, List<String> names) {
        this.loader = loader;
        this.names = names;
    }

    /** Starts preloading into {@code loader}; null if disabled or there is no list. */
    static Preloader start(ClassLoader loader) {
        if (!(loader instanceof AgentClassLoader) || "false".equals(System.getProperty("revenant.preload"))) {
            return null;
        }
        List<String> names = ((AgentClassLoader) loader).readLines(LIST);
        if (names.isEmpty()) {
            return null;
        }
        Preloader p = new Preloader((AgentClassLoader) loader, names);
        Thread t = new Thread(p, "revenant-preload");
        t.setDaemon(true);
        t.start();
        return p;
    }

    @Override
    public void run() {
        warmJdk();
        int n = 0;
        for (String name : names) {
            if (stopped) {
                break;
            }
            try {
                Class<?> c = Class.forName(name, false, loader);
                c.getDeclaredFields(); // links (verifies) the class, like its first use would
            } catch (Throwable ignored) {
                // not needed in this run, or not loadable here: its first real use will say so
            }
            n++;
        }
        loaded = n;
    }

    /**
     * JDK facilities premain's threads are about to initialise anyway, started here first: the
     * SHA-256 provider (the log header's class-path fingerprint), the runtime MXBean (Chronicle's
     * {@code Jvm}) and the default locale's date-format data with the default time zone
     * (Chronicle's {@code Wires} creates a {@code SimpleDateFormat}; this sets
     * {@code user.timezone} exactly as that does). All are thread-safe and register nothing;
     * whichever thread comes second finds them ready.
     */
    static void warmJdk() {
        try {
            new java.text.SimpleDateFormat("EEE MMM d HH:mm:ss.S zzz yyyy");
        } catch (Throwable ignored) {
            // Chronicle will report it
        }
        try {
            java.security.MessageDigest.getInstance("SHA-256");
        } catch (Throwable ignored) {
            // the fingerprint will report it
        }
        try {
            java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments();
        } catch (Throwable ignored) {
            // Chronicle will report it
        }
    }

    /** Stops at the next class. Returns how many of the list were done (if it had finished). */
    int stop() {
        stopped = true;
        return loaded;
    }

    int size() {
        return names.size();
    }
}
