package dev.revenant.bridge;

/**
 * Hands each app thread's virtual id to the identity-hash stamper, when it is installed (it is
 * looked up by name so this class compiles and runs without it).
 */
final class IdentityHashBridge {
    private static final java.lang.invoke.MethodHandle SET_KEY = find();

    private IdentityHashBridge() {}

    private static java.lang.invoke.MethodHandle find() {
        try {
            Class<?> c = Class.forName("dev.revenant.bridge.IdentityHashes", false, IdentityHashBridge.class.getClassLoader());
            return java.lang.invoke.MethodHandles.publicLookup().findStatic(c, "setThreadKey",
                    java.lang.invoke.MethodType.methodType(void.class, long.class));
        } catch (Throwable t) {
            return null;
        }
    }

    static void threadKey(long vid) {
        if (SET_KEY != null) {
            try {
                SET_KEY.invokeExact(vid);
            } catch (Throwable ignored) {
                // stamping stays with its default key
            }
        }
    }
}
