package dev.revenant.agent.instrument;

import java.security.ProtectionDomain;

import java.util.Set;

import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

/**
 * Call-site rewriting of app classes as they load, in one ASM pass per class: clock reads and
 * timed waits ({@link ClockCallSites}) and identity-hash requests ({@link HashCallSites}), each if
 * its category is on. The JDK classes that hash the objects they are handed
 * ({@link HashCallSites#JDK_CLASSES}) get the identity-hash rewrite too, whatever their loader.
 *
 * <p>A class that cannot be rewritten keeps its code and is reported on stderr (once, when it
 * loads): its clock reads and hashes are then not deterministic in replay, and the user must know.
 */
final class CallSiteTransformer implements QuietTransformer.Selective {
    private final boolean clocks;
    private final boolean hashes;
    /** Preemption points in app classes ({@link BackEdgeRewrite}). */
    private final boolean preempt;
    private final AppClasses app;

    CallSiteTransformer(boolean clocks, boolean hashes, boolean preempt, AppClasses app) {
        this.clocks = clocks;
        this.hashes = hashes;
        this.preempt = preempt;
        this.app = app;
    }

    /** Which classes count as the app's. */
    interface AppClasses {
        boolean isApp(ClassLoader loader, String internalName);
    }

    @Override
    public boolean wants(ClassLoader loader, String name) {
        if (name == null || HashCallSites.isExcluded(name)) {
            return false;
        }
        return (clocks || preempt) && app.isApp(loader, name)
                || hashes && (HashCallSites.isJdkTarget(name) || app.isApp(loader, name));
    }

    @Override
    public byte[] transform(Module module, ClassLoader loader, String name, Class<?> redefined, ProtectionDomain pd,
                            byte[] bytes) {
        if (name == null || HashCallSites.isExcluded(name)) {
            return null;
        }
        boolean isApp = app.isApp(loader, name);
        boolean clockSites = clocks && isApp;
        boolean hashSites = hashes && (isApp || HashCallSites.isJdkTarget(name));
        boolean points = preempt && isApp;
        if (!clockSites && !hashSites && !points) {
            return null;
        }
        try {
            return rewrite(loader, bytes, clockSites, hashSites, points, true);
        } catch (Throwable t) {
            JdkTransforms.reportError(name.replace('/', '.'), "call-site rewrite failed", t);
            return null;
        }
    }

    /** Null when the class has no such call site. */
    static byte[] rewrite(ClassLoader loader, byte[] bytes, boolean clockSites, boolean hashSites) {
        return rewrite(loader, bytes, clockSites, hashSites, false, true);
    }

    /** {@code scan == false}: every method through the visitors (to check the scan against). */
    static byte[] rewrite(ClassLoader loader, byte[] bytes, boolean clockSites, boolean hashSites, boolean scan) {
        return rewrite(loader, bytes, clockSites, hashSites, false, scan);
    }

    /** {@code points}: with the serial scheduler's preemption points ({@link BackEdgeRewrite}). */
    static byte[] rewrite(ClassLoader loader, byte[] bytes, boolean clockSites, boolean hashSites, boolean points,
                          boolean scan) {
        ClassReader reader = new ClassReader(bytes);
        Set<String> methods = !scan ? CallSiteScan.ALL : CallSiteScan.methodsToVisit(reader,
                (owner, name, desc) -> hashSites && HashCallSites.isRelevant(owner, name, desc)
                        || clockSites && ClockCallSites.isRelevant(owner, name, desc),
                hashSites, points);
        if (methods.isEmpty()) {
            return null;
        }
        // No new branches, so no frames to compute; the reader lets unchanged methods be copied.
        ClassWriter writer = new ClassWriter(reader, 0);
        ClassVisitor v = writer;
        HashCallSites.SitesVisitor hash = null;
        ClockCallSites.Visitor clock = null;
        if (hashSites) {
            v = hash = new HashCallSites.SitesVisitor(v);
        }
        if (clockSites) {
            v = clock = new ClockCallSites.Visitor(v, loader, bytes, true, true);
        }
        BackEdgeRewrite edges = null;
        if (points) {
            v = edges = new BackEdgeRewrite(v);
        }
        reader.accept(methods == CallSiteScan.ALL ? v
                : new OnlyMethods(v, writer, (name, desc) -> methods.contains(name + desc)), 0);
        boolean changed = hash != null && hash.changed || clock != null && clock.changed
                || edges != null && edges.changed;
        return changed ? writer.toByteArray() : null;
    }

    /**
     * Sends the methods that may change (picked by {@link CallSiteScan} or named by the rewrites)
     * through the rewriting visitors and hands every other method straight to the writer, which
     * then copies it without decoding it.
     */
    static final class OnlyMethods extends ClassVisitor {
        private final ClassWriter writer;
        private final java.util.function.BiPredicate<String, String> methods;

        OnlyMethods(ClassVisitor next, ClassWriter writer, java.util.function.BiPredicate<String, String> methods) {
            super(Opcodes.ASM9, next);
            this.writer = writer;
            this.methods = methods;
        }

        @Override
        public MethodVisitor visitMethod(int access, String name, String descriptor, String signature,
                                         String[] exceptions) {
            if (methods.test(name, descriptor)) {
                return super.visitMethod(access, name, descriptor, signature, exceptions);
            }
            return writer.visitMethod(access, name, descriptor, signature, exceptions);
        }
    }
}
