package dev.revenant.agent.instrument;

import java.util.List;

import net.bytebuddy.ByteBuddy;
import net.bytebuddy.asm.AsmVisitorWrapper;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.dynamic.ClassFileLocator;
import net.bytebuddy.dynamic.DynamicType;
import net.bytebuddy.dynamic.VisibilityBridgeStrategy;
import net.bytebuddy.dynamic.scaffold.InstrumentedType;
import net.bytebuddy.dynamic.scaffold.MethodGraph;
import net.bytebuddy.dynamic.scaffold.TypeValidation;
import net.bytebuddy.implementation.Implementation;
import net.bytebuddy.pool.TypePool;

/**
 * The ByteBuddy half of {@link JdkTransforms}: applies {@link AsmVisitorWrapper}s (Advice,
 * MemberSubstitution) to one JDK class file with {@code new ByteBuddy().redefine(type, locator)},
 * without changing the class format. Kept in its own class so that ByteBuddy is loaded only when a
 * class with such a rewrite is actually transformed.
 */
final class ByteBuddyRewriter {
    /** Reads JDK class files (boot and platform modules), for the type pool. */
    private final ClassFileLocator jdkClassFiles = ClassFileLocator.ForClassLoader.ofPlatformLoader();
    /** JDK types parsed so far, shared by all rewrites (never the rewritten class itself). */
    private final TypePool.CacheProvider jdkTypes = new TypePool.CacheProvider.Simple();
    private final ByteBuddy byteBuddy = new ByteBuddy()
            .with(TypeValidation.DISABLED)
            .with(Implementation.Context.Disabled.Factory.INSTANCE)
            .with(InstrumentedType.Factory.Default.FROZEN)
            .with(VisibilityBridgeStrategy.Default.NEVER)
            .with(MethodGraph.Compiler.ForDeclaredMethods.INSTANCE);

    /** {@code wrappers} are {@link AsmVisitorWrapper}s, in order. */
    byte[] rewrite(String name, byte[] bytes, List<Object> wrappers) {
        ClassFileLocator locator = new ClassFileLocator.Compound(ClassFileLocator.Simple.of(name, bytes), jdkClassFiles);
        TypePool pool = new TypePool.Default.WithLazyResolution(new OwnBytesFirst(name, jdkTypes), locator,
                TypePool.Default.ReaderMode.FAST);
        TypeDescription type = pool.describe(name).resolve();
        DynamicType.Builder<?> b = byteBuddy.redefine(type, locator);
        for (Object w : wrappers) {
            b = b.visit((AsmVisitorWrapper) w);
        }
        return b.make(pool).getBytes();
    }

    /**
     * The shared cache of JDK types, except for the class being rewritten, whose description must
     * come from the bytes the VM handed over (an earlier rewrite or another agent may have changed
     * them).
     */
    private static final class OwnBytesFirst implements TypePool.CacheProvider {
        private final String own;
        private final TypePool.CacheProvider shared;
        private TypePool.Resolution ownResolution;

        OwnBytesFirst(String own, TypePool.CacheProvider shared) {
            this.own = own;
            this.shared = shared;
        }

        @Override
        public TypePool.Resolution find(String name) {
            return own.equals(name) ? ownResolution : shared.find(name);
        }

        @Override
        public TypePool.Resolution register(String name, TypePool.Resolution resolution) {
            if (own.equals(name)) {
                ownResolution = resolution;
                return resolution;
            }
            return shared.register(name, resolution);
        }

        @Override
        public void clear() {
            ownResolution = null;
        }
    }
}
