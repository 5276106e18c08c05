package dev.revenant.agent.bootstrap;

import java.lang.instrument.Instrumentation;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Agent entry point ({@code Premain-Class} and {@code Agent-Class} of revenant-agent.jar).
 *
 * <p>In the packaged jar this class sits at the jar's root, which is on the boot class path
 * ({@code Boot-Class-Path}), so the boot loader defines it. Everything else comes from an
 * {@link AgentClassLoader} over the jar's {@value AgentClassLoader#PREFIX} section.
 *
 * <p>Order: create the agent loader; open java.base to its unnamed module and export
 * {@code jdk.internal.misc} to the boot loader's unnamed module (the bridge) ({@link ModuleOpener});
 * set Chronicle's properties; run the start-up preparation inside the agent loader
 * ({@code ImplStartup}: native access, quiet slf4j, deferred native layers); then (optionally,
 * agent argument {@code selftest}) the Chronicle self-test; then start the runtime,
 * {@code dev.revenant.agent.runtime.AgentMain.start(String, Instrumentation)}, looked up by name
 * in the agent loader, with that loader as the thread's context class loader (restored
 * afterwards). No Throwable escapes.
 *
 * <p>A jar without the implementation section (a test's minimal agent jar) or a classes
 * directory: this class's own loader plays the agent loader.
 *
 * <p>On failure: one line {@code revenant: agent start-up failed: <reason>} on stderr and
 * {@code System.exit(2)} — an application that asked to be recorded must not silently run
 * unrecorded — unless the agent arguments contain {@code strict=false}, in which case a one-line
 * warning is printed and the application runs without recording.
 *
 * <p>{@code REVENANT_DEBUG_STARTUP=1} prints the time each phase took on stderr.
 */
public final class Premain {

    static final String RUNTIME_CLASS = "dev.revenant.agent.runtime.AgentMain";
    static final String SELF_TEST_CLASS = "dev.revenant.agent.bootstrap.SelfTest";
    static final String IMPL_STARTUP_CLASS = "dev.revenant.agent.bootstrap.ImplStartup";
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
        StartupTimer timer = new StartupTimer("premain");
        Thread me = Thread.currentThread();
        ClassLoader oldContext = me.getContextClassLoader();
        Preloader preloader = null;
        try {
            ClassLoader loader = agentLoader();
            // Only when the jar's Boot-Class-Path worked (this class came from the boot loader). In
            // a renamed jar the bridge reaches the boot class path only in BootBridge.install, and
            // linking a preloaded class that names a bridge type (Recorder implements
            // Determinants) before that would make the agent loader define its own copy of it:
            // a LinkageError at Hooks.install, depending on which thread gets there first.
            preloader = Premain.class.getClassLoader() == null ? Preloader.start(loader) : null;
            timer.phase("agent loader");
            Module target = loader instanceof AgentClassLoader ? loader.getUnnamedModule() : Premain.class.getModule();
            ModuleOpener.open(inst, target);
            ModuleOpener.exportToBootUnnamed(inst);
            timer.phase("modules opened");
            System.setProperty("chronicle.analytics.disable", "true");
            if (System.getProperty("chronicle.announcer.disable") == null) {
                System.setProperty("chronicle.announcer.disable", "true");
            }
            // Chronicle's disk-space monitor starts a thread that polls the file store every 10 s
            // and warns through its logging, which the agent routes to slf4j's no-op provider:
            // nobody would see the warning, and it costs start-up (a service look-up, an executor).
            if (System.getProperty("chronicle.disk.monitor.disable") == null) {
                System.setProperty("chronicle.disk.monitor.disable", "true");
            }
            me.setContextClassLoader(loader);
            String prepared = prepare(loader);
            timer.phase("prepared");
            timer.note("prepared: " + prepared);

            String selfTest = null;
            if (hasFlag(args, "selftest")) {
                Object r = invokeStatic(loader, SELF_TEST_CLASS, "premainCheck", new Class<?>[0]);
                selfTest = String.valueOf(r);
                timer.phase("selftest");
            }

            if (loader.getResource(RUNTIME_CLASS.replace('.', '/') + ".class") != null) {
                Object phases = invokeStatic(loader, RUNTIME_CLASS, "start",
                    new Class<?>[] {String.class, Instrumentation.class}, args, inst);
                timer.phase("AgentMain.start");
                if (phases != null) {
                    timer.note("runtime: " + phases);
                }
            }

            if (selfTest != null) {
                System.err.println("revenant selftest ok: " + selfTest + "; premain " + ms(timer.total())
                    + " ms (modules opened in " + ms(timer.upTo("modules opened")) + " ms); java "
                    + System.getProperty("java.version"));
                System.err.flush();
            }
            if (preloader != null) {
                int done = preloader.stop();
                timer.note("preloaded " + (done > 0 ? done + "/" + preloader.size() : "part of " + preloader.size()));
            }
            timer.report(loader);
        } catch (Throwable t) {
            fail(args, t);
        } finally {
            if (preloader != null) {
                preloader.stop();
            }
            try {
                me.setContextClassLoader(oldContext);
            } catch (Throwable ignored) {
                // never let anything escape premain
            }
        }
    }

    /**
     * The loader of the implementation: an {@link AgentClassLoader} over the jar this class came
     * from, or this class's own loader when there is no implementation section (tests).
     */
    static ClassLoader agentLoader() throws java.io.IOException {
        Path jar = AgentClassLoader.jarOf(Premain.class);
        AgentClassLoader l = jar == null ? null : AgentClassLoader.open(jar, StartupTimer.recordingClassList());
        if (l != null) {
            return l;
        }
        ClassLoader own = Premain.class.getClassLoader();
        return own == null ? ClassLoader.getSystemClassLoader() : own;
    }

    /**
     * Start-up preparation that needs the implementation's classes and java.base open to them
     * ({@code ImplStartup.prepare}, loaded by {@code loader}). Without it (a test's minimal jar)
     * only native access is granted, from here.
     */
    private static String prepare(ClassLoader loader) throws Throwable {
        Class<?> c;
        try {
            c = Class.forName(IMPL_STARTUP_CLASS, true, loader);
        } catch (ClassNotFoundException e) {
            ModuleOpener.enableNativeAccessForUnnamed();
            return "no " + IMPL_STARTUP_CLASS;
        }
        return String.valueOf(invoke(c.getMethod("prepare")));
    }

    private static Object invokeStatic(ClassLoader loader, String className, String method, Class<?>[] types,
        Object... values) throws Throwable {
        Class<?> c = Class.forName(className, true, loader);
        return invoke(c.getMethod(method, types), values);
    }

    private static Object invoke(Method m, Object... values) throws Throwable {
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

    static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.1f", nanos / 1e6);
    }
}
