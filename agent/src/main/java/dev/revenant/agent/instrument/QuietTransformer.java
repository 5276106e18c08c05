package dev.revenant.agent.instrument;

import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.IllegalClassFormatException;
import java.security.ProtectionDomain;

import dev.revenant.bridge.IdentityHashes;
import dev.revenant.bridge.ThreadState;

/**
 * Runs a transformer with the calling thread marked busy: the agent's own work on an app thread
 * (reading a clock or hashing objects while it rewrites a class the app loads) must not be
 * recorded as the app's determinants nor move its identity-hash sequence, or replay, which
 * transforms at other moments, would diverge.
 *
 * <p>A {@link Selective} delegate is first asked whether it wants the class at all; most classes
 * a JVM loads are not wanted, and for them no thread state is touched.
 */
final class QuietTransformer implements ClassFileTransformer {
    private final ClassFileTransformer delegate;

    QuietTransformer(ClassFileTransformer delegate) {
        this.delegate = delegate;
    }

    /** A transformer that can tell cheaply, without clocks or identity hashes, which classes it wants. */
    interface Selective extends ClassFileTransformer {
        boolean wants(ClassLoader loader, String internalName);
    }

    @Override
    public byte[] transform(Module module, ClassLoader loader, String name, Class<?> redefined, ProtectionDomain pd,
                            byte[] bytes) throws IllegalClassFormatException {
        if (delegate instanceof Selective s && !s.wants(loader, name)) {
            return null;
        }
        ThreadState t = ThreadState.current();
        boolean was = t.busy;
        boolean hashesWere = IdentityHashes.pauseThread();
        t.busy = true;
        try {
            return delegate.transform(module, loader, name, redefined, pd, bytes);
        } finally {
            t.busy = was;
            IdentityHashes.resumeThread(hashesWere);
        }
    }
}
