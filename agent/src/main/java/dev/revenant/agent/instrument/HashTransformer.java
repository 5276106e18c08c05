package dev.revenant.agent.instrument;

import java.lang.instrument.ClassFileTransformer;
import java.security.ProtectionDomain;

/**
 * Rewrites identity-hash call sites ({@link HashCallSites}) in app classes as they load and in the
 * JDK classes that hash the objects they hold ({@link HashCallSites#JDK_CLASSES}), loaded or not.
 */
final class HashTransformer implements ClassFileTransformer {
    private final AppClasses app;

    HashTransformer(AppClasses app) {
        this.app = app;
    }

    /** Which classes count as the app's. */
    interface AppClasses {
        boolean isApp(ClassLoader loader, String internalName);
    }

    @Override
    public byte[] transform(Module module, ClassLoader loader, String name, Class<?> redefined, ProtectionDomain pd,
                            byte[] bytes) {
        try {
            if (name == null || HashCallSites.isExcluded(name)) {
                return null;
            }
            if (HashCallSites.isJdkTarget(name) || app.isApp(loader, name)) {
                return HashCallSites.transform(bytes);
            }
            return null;
        } catch (Throwable t) {
            // A class we cannot rewrite keeps its VM-assigned hashes; the app must not see our error.
            return null;
        }
    }
}
