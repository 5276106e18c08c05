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
import java.util.function.Supplier;

import net.bytebuddy.asm.AsmVisitorWrapper;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;

/**
 * The JDK classes the agent rewrites, by name, and how; installed as one
 * {@link ClassFileTransformer}.
 *
 * <pre>
 * JdkTransforms jdk = new JdkTransforms();
 * // ByteBuddy, what an AgentBuilder .type(named(X)).transform((b, ..) -&gt; b.visit(A).visit(B)) was:
 * jdk.add("sun.nio.ch.SocketChannelImpl", Advice.to(Read.class).on(named("read")), Advice.to(Write.class).on(named("write")));
 * // the same, built only when the class is first rewritten (nothing of ByteBuddy loads before):
 * jdk.add("sun.nio.ch.SocketChannelImpl", () -&gt; new AsmVisitorWrapper.Compound(Advice.to(Read.class).on(named("read")), ...));
 * // plain ASM (the agent's own entry points):
 * jdk.addAsm("java.lang.Thread", JdkEntryRewrite.atEntry("start", "()V", "threadStarting", "(Ljava/lang/Thread;)V", 0));
 * jdk.installOn(inst);
 * </pre>
 *
 * <p>Why not an {@code AgentBuilder}: with {@code RETRANSFORMATION} it walks every loaded class
 * (some 3,000 at premain, most of them the agent's own), describes each one to match it, and
 * loads and warms most of ByteBuddy on the way; with Advice and MemberSubstitution that was
 * about half a second of the agent's start-up, for about ten classes. Here the transformer looks
 * the class's internal name up in a map and returns at once for every other class, and
 * {@link #installOn} retransforms exactly the listed classes that are already loaded, in one
 * call. Classes loaded later are rewritten as they load.
 *
 * <p>Per class, the {@link ClassRewrite}s (plain ASM) run first, in the order added, in one
 * read-write pass; then the ByteBuddy wrappers, in the order added, through
 * {@code new ByteBuddy().redefine(type, ClassFileLocator.Simple.of(name, bytes)).visit(...)} with no
 * change of the class format and a lazily resolving type pool over the JDK's class files
 * ({@link ByteBuddyRewriter}).
 *
 * <p><b>Start-up cost.</b> ByteBuddy is not loaded until it is needed: building an eager
 * {@code Advice} needs it (~50 ms of premain for ten of them), and so does rewriting a class with
 * a ByteBuddy wrapper. A wrapper on a class that is already loaded when premain runs (for example
 * {@code java.nio.channels.spi.AbstractInterruptibleChannel}: every {@code FileChannel}) is applied
 * during premain and loads some 700 ByteBuddy classes there: measured +250 to +500 ms before
 * {@code main} on two cores, which alone breaks the 300 ms budget. Such entry points should be
 * {@link JdkEntryRewrite}s ({@code atEntry}, {@code returnValue}, {@code beforeReturn},
 * {@code bracket}; {@link JdkEntryRewrite#callingInto} for hooks outside {@code JdkHooks}); for
 * classes an app loads later (sockets, selectors) the lazy form defers the cost to their first use.
 *
 * <p>Only classes of the boot and platform loaders are touched: a class of the same name in
 * another loader is not the JDK's. A rewrite that throws is reported on stderr (one line and the
 * stack trace) and the class keeps its code; an ASM rewrite that finds nothing to change (the JDK
 * renamed a method) is reported too. The transformer is registered wrapped in
 * {@link QuietTransformer}: rewriting a class the app loads is the agent's work, not the app's.
 */
public final class JdkTransforms {

    /** Rewrites by internal name ({@code java/lang/Thread}). */
    private final Map<String, Entry> byName = new LinkedHashMap<>();

    private static final class Entry {
        final List<ClassRewrite> asm = new ArrayList<>();
        /** {@link AsmVisitorWrapper}s, or {@link Supplier}s of one (resolved at first use). */
        final List<Object> byteBuddy = new ArrayList<>();
    }

    /**
     * Adds ByteBuddy rewrites ({@code Advice.to(..).on(..)}, {@code MemberSubstitution..on(..)}) of
     * the JDK class {@code className} (binary name: {@code java.time.Clock$SystemClock}). Several
     * calls for one class add up; wrappers run in the order added. Building an {@code Advice}
     * loads a good part of ByteBuddy at once: see the class comment on start-up cost.
     */
    public JdkTransforms add(String className, AsmVisitorWrapper... wrappers) {
        Entry e = entry(className);
        Collections.addAll(e.byteBuddy, (Object[]) wrappers);
        return this;
    }

    /**
     * Like {@link #add(String, AsmVisitorWrapper...)}, but the wrapper is built the first time
     * {@code className} is rewritten: {@code add("sun.nio.ch.X", () -> Advice.to(A.class).on(named("m")))};
     * several at once with {@code new AsmVisitorWrapper.Compound(...)}. Nothing of ByteBuddy is
     * loaded before then.
     */
    public JdkTransforms add(String className, Supplier<? extends AsmVisitorWrapper> wrapper) {
        entry(className).byteBuddy.add(wrapper);
        return this;
    }

    /** Adds plain-ASM rewrites of {@code className}; they run before any ByteBuddy wrapper. */
    public JdkTransforms addAsm(String className, ClassRewrite... rewrites) {
        Collections.addAll(entry(className).asm, rewrites);
        return this;
    }

    private Entry entry(String className) {
        if (className == null || className.isEmpty() || className.indexOf('/') >= 0) {
            throw new IllegalArgumentException("expected a binary class name like java.lang.Thread: " + className);
        }
        return byName.computeIfAbsent(className.replace('.', '/'), k -> new Entry());
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
        final Map<String, Entry> entries;
        private volatile ByteBuddyRewriter byteBuddy;

        Rewriter(Map<String, Entry> byName) {
            Map<String, Entry> m = new HashMap<>();
            byName.forEach((k, v) -> {
                Entry copy = new Entry();
                copy.asm.addAll(v.asm);
                copy.byteBuddy.addAll(v.byteBuddy);
                m.put(k, copy);
            });
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
        byte[] rewrite(String name, byte[] bytes, Entry e) {
            byte[] current = bytes;
            boolean changed = false;
            if (!e.asm.isEmpty()) {
                try {
                    ClassReader reader = new ClassReader(bytes);
                    ClassWriter writer = new ClassWriter(reader, 0);
                    ClassVisitor v = writer;
                    List<ClassRewrite.Tracking> tracking = new ArrayList<>();
                    java.util.function.BiPredicate<String, String> methods = (n, d) -> false;
                    for (int i = e.asm.size() - 1; i >= 0; i--) {
                        ClassRewrite r = e.asm.get(i);
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
                        if (!t.changed()) {
                            reportNothingFound(name, t.target());
                        }
                    }
                    current = writer.toByteArray();
                    changed = true;
                } catch (Throwable t) {
                    reportError(name, "rewrite failed", t);
                }
            }
            if (!e.byteBuddy.isEmpty()) {
                try {
                    current = byteBuddy().rewrite(name, current, resolve(e.byteBuddy));
                    changed = true;
                } catch (Throwable t) {
                    reportError(name, "ByteBuddy rewrite failed", t);
                }
            }
            return changed ? current : null;
        }

        private ByteBuddyRewriter byteBuddy() {
            ByteBuddyRewriter b = byteBuddy;
            if (b == null) {
                synchronized (this) {
                    b = byteBuddy;
                    if (b == null) {
                        b = new ByteBuddyRewriter();
                        byteBuddy = b;
                    }
                }
            }
            return b;
        }

        /** The wrappers, suppliers called (once: the result replaces the supplier). */
        private static List<Object> resolve(List<Object> wrappers) {
            synchronized (wrappers) {
                for (int i = 0; i < wrappers.size(); i++) {
                    if (wrappers.get(i) instanceof Supplier<?> s) {
                        wrappers.set(i, s.get());
                    }
                }
                return List.copyOf(wrappers);
            }
        }
    }

    /** Rewrites one class file as the installed transformer would (tests). Null if unchanged. */
    byte[] rewrite(String className, byte[] bytes) {
        Entry e = byName.get(className.replace('.', '/'));
        return e == null ? null : new Rewriter(byName).rewrite(className, bytes, e);
    }
}
