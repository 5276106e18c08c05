package dev.revenant.agent.bootstrap;

import java.lang.instrument.Instrumentation;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Locale;

/**
 * Agent entry point ({@code Premain-Class} and {@code Agent-Class} of revenant-agent.jar).
 *
 * <p>Order: open java.base to the agent ({@link ModuleOpener}), set Chronicle's properties, then
 * (optionally, agent argument {@code selftest}) run the Chronicle self-test, then start the
 * runtime, {@code dev.revenant.agent.runtime.AgentMain.start(String, Instrumentation)}, looked up
 * by name so that this class references no other agent type (nothing Chronicle-related may load
 * before the modules are open). No Throwable escapes.
 *
 * <p>On failure: one line {@code revenant: agent start-up failed: <reason>} on stderr and
 * {@code System.exit(2)} — an application that asked to be recorded must not silently run
 * unrecorded — unless the agent arguments contain {@code strict=false}, in which case a one-line
 * warning is printed and the application runs without recording.
 */
public final class Premain {

    static final String RUNTIME_CLASS = "dev.revenant.agent.runtime.AgentMain";
    static final String SELF_TEST_CLASS = "dev.revenant.agent.bootstrap.SelfTest";
    static final int EXIT_START_FAILED = 2;

    private Premain() {
    }

    public static void premain(String args, Instrumentation inst) {
        start(args, inst);
    }

    public static void agentmain(String args, Instrumentation inst) {
        start(args, inst);
    }

    private static void start(String args, Instrumentation inst) {
        long t0 = System.nanoTime();
        try {
            ModuleOpener.open(inst);
            ModuleOpener.enableNativeAccessForUnnamed();
            long tOpened = System.nanoTime();
            System.setProperty("chronicle.analytics.disable", "true");
            if (System.getProperty("chronicle.announcer.disable") == null) {
                System.setProperty("chronicle.announcer.disable", "true");
            }
            quietShadedSlf4j();

            String selfTest = null;
            if (hasFlag(args, "selftest")) {
                Object r = invokeStatic(SELF_TEST_CLASS, "premainCheck", new Class<?>[0]);
                selfTest = String.valueOf(r);
            }

            ClassLoader loader = Premain.class.getClassLoader();
            String resource = RUNTIME_CLASS.replace('.', '/') + ".class";
            boolean runtimePresent = loader == null
                ? ClassLoader.getSystemResource(resource) != null
                : loader.getResource(resource) != null;
            if (runtimePresent) {
                invokeStatic(RUNTIME_CLASS, "start", new Class<?>[] {String.class, Instrumentation.class}, args, inst);
            }

            if (selfTest != null) {
                long t1 = System.nanoTime();
                System.err.println("revenant selftest ok: " + selfTest + "; premain " + ms(t1 - t0)
                    + " ms (modules opened in " + ms(tOpened - t0) + " ms); java " + System.getProperty("java.version"));
                System.err.flush();
            }
        } catch (Throwable t) {
            fail(args, t);
        }
    }

    /**
     * The shaded slf4j (dev.revenant.shaded.slf4j, used only by Chronicle) finds no provider and
     * would print three "SLF4J(W): No SLF4J providers were found" lines into the application's
     * stderr. Point it at slf4j's own NOP provider, which is what it falls back to anyway. The two
     * system properties are read by the application's own (unshaded) slf4j as well, so they are set
     * only while the shaded LoggerFactory initialises (nothing else runs during premain) and then
     * restored. The class-name strings below are rewritten by the shade plugin's relocation to
     * their dev.revenant.shaded.slf4j names. Best effort; never throws.
     */
    static void quietShadedSlf4j() {
        String providerKey = "slf4j.provider";
        String verbosityKey = "slf4j.internal.verbosity";
        String oldProvider = System.getProperty(providerKey);
        String oldVerbosity = System.getProperty(verbosityKey);
        try {
            Class<?> factory = Class.forName("org.slf4j.LoggerFactory", false, Premain.class.getClassLoader());
            if (!factory.getName().startsWith("dev.revenant.shaded.")) {
                return; // unshaded (tests/IDE): it is the application's slf4j, leave it alone
            }
            System.setProperty(providerKey, "org.slf4j.helpers.NOP_FallbackServiceProvider");
            System.setProperty(verbosityKey, "WARN"); // hides the "Attempting to load provider" info line
            factory.getMethod("getILoggerFactory").invoke(null);
        } catch (Throwable ignored) {
            // noise only: slf4j then prints its own warning
        } finally {
            restore(providerKey, oldProvider);
            restore(verbosityKey, oldVerbosity);
        }
    }

    private static void restore(String key, String value) {
        try {
            if (value == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, value);
            }
        } catch (Throwable ignored) {
            // best effort
        }
    }

    private static Object invokeStatic(String className, String method, Class<?>[] types, Object... values)
        throws Throwable {
        Class<?> c = Class.forName(className, true, Premain.class.getClassLoader());
        Method m = c.getMethod(method, types);
        try {
            return m.invoke(null, values);
        } catch (InvocationTargetException e) {
            throw e.getCause() == null ? e : e.getCause();
        }
    }

    private static void fail(String args, Throwable t) {
        try {
            String reason = describe(t);
            boolean strict = !hasFlag(args, "strict=false");
            if (strict) {
                System.err.println("revenant: agent start-up failed: " + reason);
            } else {
                System.err.println("revenant: WARNING: agent start-up failed: " + reason
                    + " -- running WITHOUT recording (strict=false)");
            }
            if ("1".equals(System.getenv("REVENANT_DEBUG"))) {
                t.printStackTrace();
            }
            System.err.flush();
            if (strict) {
                System.exit(EXIT_START_FAILED);
            }
        } catch (Throwable ignored) {
            // never let anything escape premain
        }
    }

    /** True if the comma-separated agent argument string contains {@code flag} as an item. */
    static boolean hasFlag(String args, String flag) {
        if (args == null || args.isEmpty()) {
            return false;
        }
        for (String item : args.split(",")) {
            if (item.trim().toLowerCase(Locale.ROOT).equals(flag)) {
                return true;
            }
        }
        return false;
    }

    static String describe(Throwable t) {
        String msg = t.getMessage();
        if (msg == null || msg.isBlank() || t instanceof Error) {
            return t.toString();
        }
        if (t instanceof java.nio.file.FileSystemException) {
            return t.getClass().getSimpleName() + ": " + msg; // the bare message is only the path
        }
        return msg;
    }

    private static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.1f", nanos / 1e6);
    }
}
