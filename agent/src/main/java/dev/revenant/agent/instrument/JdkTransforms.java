package dev.revenant.agent.instrument;

import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.security.ProtectionDomain;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;

/**
 * The JDK classes the agent rewrites, by name, and how; installed as one
 * {@link ClassFileTransformer}.
 *
 * <pre>
 * JdkTransforms jdk = new JdkTransforms();
 * jdk.addAsm("java.lang.Thread", JdkEntryRewrite.atEntry("start", "()V", "threadStarting", "(Ljava/lang/Thread;)V", 0));
 * jdk.addAsm("sun.nio.ch.SocketChannelImpl", HookRewrite.on("read", "(Ljava/nio/ByteBuffer;)I", NET).skipIf(...).outcome(...));
 * jdk.installOn(inst);
 * </pre>
 *
 * <p>Why not a ByteBuddy {@code AgentBuilder}: with {@code RETRANSFORMATION} it walks every loaded
 * class (some 3,000 at premain, most of them the agent's own), describes each one to match it, and
 * loads and warms most of ByteBuddy on the way; with Advice and MemberSubstitution that was about
 * half a second of the agent's start-up, for about ten classes. Here the transformer looks the
 * class's internal name up in a map and returns at once for every other class, and
 * {@link #installOn} retransforms exactly the listed classes that are already loaded, in one
 * call. Classes loaded later are rewritten as they load.
 *
 * <p>Per class, the {@link ClassRewrite}s (plain ASM: {@link JdkEntryRewrite}, {@link HookRewrite})
 * run in the order added, in one read-write pass. The agent once applied ByteBuddy Advice here for
 * the socket classes; its first use cost about 350 ms on two cores, paid in premain on JDK 25
 * (which loads {@code SocketChannelImpl} before {@code main}), so the agent now carries no
 * ByteBuddy at all.
 *
 * <p>Only classes of the boot and platform loaders are touched: a class of the same name in
 * another loader is not the JDK's. A rewrite that throws is reported on stderr (one line and the
 * stack trace) and the class keeps its code; a rewrite that finds nothing to change (the JDK
 * renamed a method) is reported too. The transformer is registered wrapped in
 * {@link QuietTransformer}: rewriting a class the app loads is the agent's work, not the app's.
 */
public final class JdkTransforms {

    /** Rewrites by internal name ({@code java/lang/Thread}). */
    private final Map<String, List<ClassRewrite>> byName = new LinkedHashMap<>();

    /** Adds plain-ASM rewrites of {@code className}; several calls for one class add up, in order. */
    public JdkTransforms addAsm(String className, ClassRewrite... rewrites) {
        Collections.addAll(entry(className), rewrites);
        return this;
    }

    private List<ClassRewrite> entry(String className) {
        if (className == null || className.isEmpty() || className.indexOf('/') >= 0) {
            throw new IllegalArgumentException("expected a binary class name like java.lang.Thread: " + className);
        }
        return byName.computeIfAbsent(className.replace('.', '/'), k -> new ArrayList<>());
    }

    /** Binary names of the classes with at least one rewrite. */
    public Set<String> classNames() {
        Set<String> s = new LinkedHashSet<>();
        for (String n : byName.keySet()) {
            s.add(n.replace('/', '.'));
        }
        return Collections.unmodifiableSet(s);
    }

    /**
     * Registers the transformer (retransform-capable, wrapped in {@link QuietTransformer}) and
     * retransforms the listed classes that are already loaded, in one call. Returns the registered
     * transformer (null if nothing was added). A class that cannot be rewritten or retransformed is
     * reported on stderr and does not stop the others.
     */
    public ClassFileTransformer installOn(Instrumentation inst) {
        ClassFileTransformer registered = register(inst);
        if (registered != null) {
            retransform(inst, loadedTargets(inst, classNames()));
        }
        return registered;
    }

    /**
     * Only registers the transformer: classes loaded from now on are rewritten as they load; the
     * caller retransforms the loaded ones ({@link #loadedTargets}), e.g. together with another
     * transformer's in one VM operation (each retransformation is a stop-the-world pause that
     * walks every loaded class). Null if nothing was added.
     */
    public ClassFileTransformer register(Instrumentation inst) {
        if (byName.isEmpty()) {
            return null;
        }
        ClassFileTransformer registered = new QuietTransformer(new Rewriter(byName));
        inst.addTransformer(registered, true);
        return registered;
    }

    /** The loaded, modifiable classes of the boot and platform loaders with these binary names. */
    static List<Class<?>> loadedTargets(Instrumentation inst, Set<String> binaryNames) {
        List<Class<?>> loaded = new ArrayList<>();
        ClassLoader platform = ClassLoader.getPlatformClassLoader();
        for (Class<?> c : inst.getAllLoadedClasses()) {
            ClassLoader l = c.getClassLoader();
            if ((l == null || l == platform) && binaryNames.contains(c.getName()) && inst.isModifiableClass(c)) {
                loaded.add(c);
            }
        }
        return loaded;
    }

    /**
     * One call for all (one VM operation); if the VM refuses the batch (a rewrite it cannot
     * verify, say), each class again on its own, so that the others still get their rewrite and
     * the culprit is named.
     */
    static void retransform(Instrumentation inst, List<Class<?>> classes) {
        if (classes.isEmpty()) {
            return;
        }
        try {
            inst.retransformClasses(classes.toArray(new Class<?>[0]));
            return;
        } catch (Throwable batch) {
            if (classes.size() == 1) {
                reportError(classes.get(0).getName(), "retransformation failed", batch);
                return;
            }
        }
        for (Class<?> c : classes) {
            try {
                inst.retransformClasses(c);
            } catch (Throwable t) {
                reportError(c.getName(), "retransformation failed", t);
            }
        }
    }

    static void reportError(String className, String what, Throwable t) {
        try {
            System.err.println("revenant: ERROR: instrumenting " + className + ": " + what + ": " + t
                    + " -- calls there are not recorded in this run");
            t.printStackTrace();
            System.err.flush();
        } catch (Throwable ignored) {
            // stderr gone: nothing else to tell
        }
    }

    static void reportNothingFound(String className, String target) {
        try {
            System.err.println("revenant: ERROR: instrumenting " + className + ": found nothing to rewrite for "
                    + target + " (another JDK version?) -- calls there are not recorded in this run");
            System.err.flush();
        } catch (Throwable ignored) {
            // stderr gone
        }
    }

    /** The transformer proper: a map look-up for every class, the rewrites for the listed ones. */
    static final class Rewriter implements QuietTransformer.Selective {
        final Map<String, List<ClassRewrite>> entries;

        Rewriter(Map<String, List<ClassRewrite>> byName) {
            Map<String, List<ClassRewrite>> m = new HashMap<>();
            byName.forEach((k, v) -> m.put(k, List.copyOf(v)));
            this.entries = m;
        }

        @Override
        public boolean wants(ClassLoader loader, String internalName) {
            return internalName != null && (loader == null || loader == ClassLoader.getPlatformClassLoader())
                    && entries.containsKey(internalName);
        }

        @Override
        public byte[] transform(Module module, ClassLoader loader, String internalName, Class<?> redefined,
                                ProtectionDomain pd, byte[] bytes) {
            if (!wants(loader, internalName)) {
                return null;
            }
            return rewrite(internalName.replace('/', '.'), bytes, entries.get(internalName));
        }

        /** The rewritten class file, or null if nothing changed (failures reported). */
        byte[] rewrite(String name, byte[] bytes, List<ClassRewrite> rewrites) {
            if (rewrites.isEmpty()) {
                return null;
            }
            try {
                ClassReader reader = new ClassReader(bytes);
                ClassWriter writer = new ClassWriter(reader, 0);
                ClassVisitor v = writer;
                List<ClassRewrite.Tracking> tracking = new ArrayList<>();
                java.util.function.BiPredicate<String, String> methods = (n, d) -> false;
                for (int i = rewrites.size() - 1; i >= 0; i--) {
                    ClassRewrite r = rewrites.get(i);
                    v = r.wrap(v);
                    if (v instanceof ClassRewrite.Tracking t) {
                        tracking.add(t);
                    }
                    java.util.function.BiPredicate<String, String> m = methods == null ? null : r.methods(reader);
                    methods = m == null ? null : methods.or(m);
                }
                // methods no rewrite claims are copied as they are, without being decoded
                reader.accept(methods == null ? v : new CallSiteTransformer.OnlyMethods(v, writer, methods), 0);
                for (ClassRewrite.Tracking t : tracking) {
                    if (t.required() && !t.changed()) {
                        reportNothingFound(name, t.target());
                    }
                }
                return writer.toByteArray();
            } catch (Throwable t) {
                reportError(name, "rewrite failed", t);
                return null;
            }
        }
    }

    /** Rewrites one class file as the installed transformer would (tests). Null if unchanged. */
    byte[] rewrite(String className, byte[] bytes) {
        List<ClassRewrite> e = byName.get(className.replace('.', '/'));
        return e == null ? null : new Rewriter(byName).rewrite(className, bytes, e);
    }
}
