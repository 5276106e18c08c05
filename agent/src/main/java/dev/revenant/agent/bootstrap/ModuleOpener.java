package dev.revenant.agent.bootstrap;

import java.lang.instrument.Instrumentation;
import java.lang.reflect.Method;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Gives the agent's implementation (the unnamed module of its {@link AgentClassLoader}) the
 * {@code java.base} access Chronicle Queue needs on JDK 17+, through
 * {@link Instrumentation#redefineModule}, so users pass no {@code --add-opens}/
 * {@code --add-exports}; and exports {@code jdk.internal.misc} to the boot loader's unnamed module,
 * where the bridge classes ({@code dev.revenant.bridge}, on the agent jar's
 * {@code Boot-Class-Path}) live. Same set as the {@code Add-Exports}/{@code Add-Opens} manifest
 * attributes (which only {@code java -jar} honours: they name ALL-UNNAMED, which covers the agent
 * loader's unnamed module too) and as {@code chronicle.jvm.flags} in the parent pom.
 *
 * <p>References only JDK types: it runs before anything else in the agent.
 */
public final class ModuleOpener {

    /** java.base packages exported to the agent. */
    public static final List<String> EXPORTS = List.of("sun.nio.ch", "jdk.internal.ref", "jdk.internal.misc");

    /** java.base packages opened (deep reflection) to the agent. */
    public static final List<String> OPENS =
        List.of("java.lang.reflect", "java.nio", "sun.nio.ch", "java.lang", "java.io", "java.util");

    private ModuleOpener() {
    }

    /** java.base packages exported to the boot loader's unnamed module (the bridge). */
    public static final List<String> BOOT_EXPORTS = List.of("jdk.internal.misc");

    /** Opens java.base to the module of this class. */
    public static void open(Instrumentation inst) {
        open(inst, ModuleOpener.class.getModule());
    }

    /**
     * JDK 24+ (JEP 472): grants native access to the unnamed modules, the effect of
     * {@code --enable-native-access=ALL-UNNAMED}, so that jffi's {@code System.load} (Chronicle's
     * posix layer uses jnr-ffi) neither prints the "restricted method" warning nor gets blocked by
     * a future JDK. Needs {@code java.lang} open to this module, i.e. run after {@link #open}.
     * Best effort: returns false (and changes nothing) on JDKs without the mechanism (17, 21) or
     * when it fails; never throws.
     */
    public static boolean enableNativeAccessForUnnamed() {
        if (Runtime.version().feature() < 22) {
            return false;
        }
        try {
            Method m = Module.class.getDeclaredMethod("implAddEnableNativeAccessToAllUnnamed");
            m.setAccessible(true);
            m.invoke(null);
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    /**
     * Exports/opens {@link #EXPORTS}/{@link #OPENS} of java.base to {@code target}, then checks
     * that it took effect.
     *
     * @throws IllegalStateException if java.base cannot be modified or the change did not stick
     */
    public static void open(Instrumentation inst, Module target) {
        Module base = Object.class.getModule();
        if (!inst.isModifiableModule(base)) {
            throw new IllegalStateException("java.base is not modifiable by this agent");
        }
        Set<Module> to = Set.of(target);
        Map<String, Set<Module>> exports = new LinkedHashMap<>();
        for (String pkg : EXPORTS) {
            exports.put(pkg, to);
        }
        Map<String, Set<Module>> opens = new LinkedHashMap<>();
        for (String pkg : OPENS) {
            opens.put(pkg, to);
        }
        inst.redefineModule(base, Set.of(), exports, opens, Set.of(), Map.of());
        for (String pkg : EXPORTS) {
            if (!base.isExported(pkg, target)) {
                throw new IllegalStateException("could not export java.base/" + pkg + " to the agent");
            }
        }
        for (String pkg : OPENS) {
            if (!base.isOpen(pkg, target)) {
                throw new IllegalStateException("could not open java.base/" + pkg + " to the agent");
            }
        }
    }

    /**
     * The boot loader's unnamed module: that of this class when the boot loader loaded it (the
     * agent jar's {@code Boot-Class-Path}), else that of the bridge if the boot loader can find
     * it; null if neither (no bridge on the boot class path).
     */
    public static Module bootUnnamedModule() {
        if (ModuleOpener.class.getClassLoader() == null) {
            return ModuleOpener.class.getModule();
        }
        try {
            return Class.forName("dev.revenant.bridge.Hooks", false, null).getModule();
        } catch (ClassNotFoundException | LinkageError e) {
            return null;
        }
    }

    /**
     * Exports {@link #BOOT_EXPORTS} of java.base to the boot loader's unnamed module (where the
     * bridge lives), then checks that it took effect. Returns false, changing nothing, if there
     * is no such module to export to ({@link #bootUnnamedModule()} is null).
     *
     * @throws IllegalStateException if java.base cannot be modified or the change did not stick
     */
    public static boolean exportToBootUnnamed(Instrumentation inst) {
        Module target = bootUnnamedModule();
        if (target == null) {
            return false;
        }
        Module base = Object.class.getModule();
        if (!inst.isModifiableModule(base)) {
            throw new IllegalStateException("java.base is not modifiable by this agent");
        }
        Map<String, Set<Module>> exports = new LinkedHashMap<>();
        for (String pkg : BOOT_EXPORTS) {
            exports.put(pkg, Set.of(target));
        }
        inst.redefineModule(base, Set.of(), exports, Map.of(), Set.of(), Map.of());
        for (String pkg : BOOT_EXPORTS) {
            if (!base.isExported(pkg, target)) {
                throw new IllegalStateException("could not export java.base/" + pkg + " to the boot class path");
            }
        }
        return true;
    }
}
