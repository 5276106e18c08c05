package dev.revenant.agent.instrument;

import java.lang.instrument.ClassFileTransformer;
import java.security.ProtectionDomain;

import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;

/**
 * Call-site rewriting of app classes as they load, in one ASM pass per class: clock reads and
 * timed waits ({@link ClockCallSites}) and identity-hash requests ({@link HashCallSites}), each if
 * its category is on. The JDK classes that hash the objects they are handed
 * ({@link HashCallSites#JDK_CLASSES}) get the identity-hash rewrite too, whatever their loader.
 *
 * <p>A class that cannot be rewritten keeps its code and is reported on stderr (once, when it
 * loads): its clock reads and hashes are then not deterministic in replay, and the user must know.
 */
final class CallSiteTransformer implements ClassFileTransformer {
    private final boolean clocks;
    private final boolean hashes;
    private final AppClasses app;

    CallSiteTransformer(boolean clocks, boolean hashes, AppClasses app) {
        this.clocks = clocks;
        this.hashes = hashes;
        this.app = app;
    }

    /** Which classes count as the app's. */
    interface AppClasses {
        boolean isApp(ClassLoader loader, String internalName);
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
        if (!clockSites && !hashSites) {
            return null;
        }
        try {
            return rewrite(loader, bytes, clockSites, hashSites);
        } catch (Throwable t) {
            JdkTransforms.reportError(name.replace('/', '.'), "call-site rewrite failed", t);
            return null;
        }
    }

    /** Null when the class has no such call site. */
    static byte[] rewrite(ClassLoader loader, byte[] bytes, boolean clockSites, boolean hashSites) {
        ClassReader reader = new ClassReader(bytes);
        // No new branches, so no frames to compute; the reader lets unchanged methods be copied.
        ClassWriter writer = new ClassWriter(reader, 0);
        ClassVisitor v = writer;
        HashCallSites.SitesVisitor hash = null;
        ClockCallSites.Visitor clock = null;
        if (hashSites) {
            v = hash = new HashCallSites.SitesVisitor(v);
        }
        if (clockSites) {
            v = clock = new ClockCallSites.Visitor(v, loader, bytes);
        }
        reader.accept(v, 0);
        boolean changed = hash != null && hash.changed || clock != null && clock.changed;
        return changed ? writer.toByteArray() : null;
    }
}
