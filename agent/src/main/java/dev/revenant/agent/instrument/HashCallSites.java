package dev.revenant.agent.instrument;

import java.util.List;
import java.util.Set;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.Handle;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * Rewrites identity-hash call sites so that {@code dev.revenant.bridge.IdentityHashes} can stamp a
 * deterministic hash into the receiver's mark word before the VM would draw one:
 * <ul>
 *   <li>{@code invokevirtual/invokeinterface <any>.hashCode()I} becomes
 *       {@code dup; invokestatic IdentityHashes.stamp(Object)V; invoke...} (the receiver is on top
 *       of the stack, hashCode takes no arguments). Skipped for receivers statically known to be
 *       String or a box type (final classes with their own hashCode; stamp would ignore them);
 *   <li>{@code invokestatic java/lang/System.identityHashCode(Object)I} and
 *       {@code invokespecial java/lang/Object.hashCode()I} get
 *       {@code dup; invokestatic IdentityHashes.stampIdentity(Object)V};
 *   <li>{@code invokespecial <Super>.hashCode()I} (super.hashCode() through a class that may
 *       override it) gets {@code dup; ldc <Super>; invokestatic IdentityHashes.stampSuper(Object, Class)V}
 *       (class files older than 49 cannot ldc a class: stampIdentity instead);
 *   <li>after {@code invokestatic java/lang/ClassLoader.defineClass0/1/2(...)Ljava/lang/Class;}
 *       (in ClassLoader and JavaLangAccess): {@code dup; invokestatic IdentityHashes.stampIdentity},
 *       so every class defined through a ClassLoader or a Lookup gets its mirror's hash from its
 *       name before HotSpot links the class — linking hashes the mirror from the linking
 *       thread's generator otherwise (measured on 17 and 25). Hidden classes defined with
 *       {@code initialize=true} (lambdas) are linked inside the native and keep the VM's hash;
 *   <li>{@code invokedynamic} through {@code LambdaMetafactory} whose implementation handle is
 *       {@code Object::hashCode}-like or {@code System::identityHashCode}: the handle is replaced
 *       by {@code IdentityHashes.hashCodeOf}/{@code identityHashCodeOf} (not for serializable
 *       lambdas, whose deserialisation checks the handle).
 * </ul>
 * No branches are added, so stack map frames stay valid; max stack grows by at most 2.
 * Classes under {@code dev/revenant/} (the agent, the bridge, shaded dependencies) are left
 * untouched.
 */
public final class HashCallSites {

    /** Internal name of the bridge class the rewritten sites call. */
    public static final String BRIDGE = "dev/revenant/bridge/IdentityHashes";

    /**
     * JDK classes (internal names, JDK 17 and 25) that request identity hashes of objects they
     * are handed: retransform the loaded ones, transform the others when they load. The first
     * group is what HashSet/HashMap/LinkedHash*, IdentityHashMap, WeakHashMap, Hashtable,
     * ConcurrentHashMap, Enum.hashCode, Object.toString and records/Objects.hash need; the rest
     * compute hashCode() of collections and entries holding identity-hashed elements. Names that
     * do not exist on a JDK are simply never seen.
     */
    public static final List<String> JDK_CLASSES = List.of(
        // hash of keys: the collections themselves
        "java/util/HashMap",
        "java/util/HashMap$TreeNode",
        "java/util/WeakHashMap",
        "java/util/IdentityHashMap",
        "java/util/IdentityHashMap$KeySet",
        "java/util/IdentityHashMap$EntryIterator$Entry",
        "java/util/Hashtable",
        "java/util/Hashtable$EntrySet",
        "java/util/concurrent/ConcurrentHashMap",
        "java/util/concurrent/ConcurrentHashMap$TreeBin",
        "java/util/concurrent/ConcurrentHashMap$Node",
        "java/util/concurrent/ConcurrentHashMap$MapEntry",
        "java/util/concurrent/ConcurrentHashMap$KeySetView",
        "java/util/ImmutableCollections$Set12",
        "java/util/ImmutableCollections$SetN",
        "java/util/ImmutableCollections$Map1",
        "java/util/ImmutableCollections$MapN",
        // identity hash requested for the app by java.lang / java.util helpers
        "java/lang/Object",             // toString(): getClass().getName() + "@" + hashCode()
        "java/lang/Enum",               // 17: super.hashCode(); 25: cached System.identityHashCode
        // Class objects: stamp the mirror as soon as defineClass returns (see class comment)
        "java/lang/ClassLoader",
        "java/lang/System$2",           // JavaLangAccess on 17 (defineClass for Lookup/Proxy)
        "java/lang/System$1",           // JavaLangAccess on 25
        "java/util/Objects",            // Objects.hashCode (records' hashCode goes through it)
        "java/util/Arrays",             // Arrays.hashCode(Object[]) / Objects.hash(...)
        "java/util/Formatter$FormatSpecifier", // %h
        // hashCode() of collections/entries
        "java/util/AbstractList",
        "java/util/AbstractSet",
        "java/util/AbstractMap$SimpleEntry",
        "java/util/AbstractMap$SimpleImmutableEntry",
        "java/util/ArrayList",
        "java/util/KeyValueHolder",
        "java/util/TreeMap$Entry",
        "java/util/EnumMap",
        "java/util/EnumMap$EntryIterator$Entry",
        "java/util/Collections$CopiesList",
        "java/util/ReverseOrderListView",
        "java/util/ReverseOrderSortedSetView",
        "java/util/ImmutableCollections$StableMap$StableEntry",
        "java/util/concurrent/CopyOnWriteArrayList",
        "java/util/concurrent/CopyOnWriteArrayList$Reversed");

    private static final Set<String> JDK_CLASS_SET = Set.copyOf(JDK_CLASSES);

    /** Final classes with their own hashCode(): a virtual call on them never needs a stamp. */
    private static final Set<String> CONTENT_HASHED_FINAL = Set.of(
        "java/lang/String", "java/lang/Integer", "java/lang/Long", "java/lang/Short",
        "java/lang/Byte", "java/lang/Character", "java/lang/Boolean", "java/lang/Float",
        "java/lang/Double");

    /** ClassLoader's natives that define a class (called from ClassLoader and JavaLangAccess). */
    private static final Set<String> DEFINE_CLASS_NATIVES = Set.of("defineClass0", "defineClass1", "defineClass2");

    private static final String LMF = "java/lang/invoke/LambdaMetafactory";
    private static final int FLAG_SERIALIZABLE = 1; // LambdaMetafactory.FLAG_SERIALIZABLE

    private HashCallSites() {
    }

    /** Whether {@code internalName} is one of {@link #JDK_CLASSES}. */
    public static boolean isJdkTarget(String internalName) {
        return internalName != null && JDK_CLASS_SET.contains(internalName);
    }

    /**
     * Whether an invocation of {@code owner.name desc} may be a site this rewrite changes (for
     * {@link CallSiteScan}: a superset is fine, the visitor decides).
     */
    static boolean isRelevant(String owner, String name, String desc) {
        return "hashCode".equals(name) && "()I".equals(desc)
                || "identityHashCode".equals(name) && "java/lang/System".equals(owner)
                || DEFINE_CLASS_NATIVES.contains(name) && "java/lang/ClassLoader".equals(owner);
    }

    /** Whether classes with this internal name must never be rewritten (the agent itself). */
    public static boolean isExcluded(String internalName) {
        return internalName == null
                || internalName.startsWith("dev/revenant/") && !internalName.startsWith("dev/revenant/demo/");
    }

    static final class SitesVisitor extends ClassVisitor {
        boolean changed;
        private boolean skip;
        private boolean canLdcClass;

        SitesVisitor(ClassVisitor next) {
            super(Opcodes.ASM9, next);
        }

        @Override
        public void visit(int version, int access, String name, String signature, String superName,
                          String[] interfaces) {
            skip = isExcluded(name) || (access & Opcodes.ACC_MODULE) != 0;
            canLdcClass = (version & 0xFFFF) >= Opcodes.V1_5;
            super.visit(version, access, name, signature, superName, interfaces);
        }

        @Override
        public MethodVisitor visitMethod(int access, String name, String descriptor, String signature,
                                         String[] exceptions) {
            MethodVisitor mv = super.visitMethod(access, name, descriptor, signature, exceptions);
            if (skip || mv == null || !ClassRewrite.hasCode(access)) {
                return mv;
            }
            return new SitesMethodVisitor(mv, this);
        }
    }

    static final class SitesMethodVisitor extends MethodVisitor {
        private final SitesVisitor owner;
        private int extraStack;

        SitesMethodVisitor(MethodVisitor next, SitesVisitor owner) {
            super(Opcodes.ASM9, next);
            this.owner = owner;
        }

        @Override
        public void visitMethodInsn(int opcode, String ownerName, String name, String descriptor,
                                    boolean isInterface) {
            if ("hashCode".equals(name) && "()I".equals(descriptor)) {
                if (opcode == Opcodes.INVOKEVIRTUAL || opcode == Opcodes.INVOKEINTERFACE) {
                    if (!CONTENT_HASHED_FINAL.contains(ownerName)) {
                        emitStamp("stamp", 1);
                    }
                } else if (opcode == Opcodes.INVOKESPECIAL) {
                    if ("java/lang/Object".equals(ownerName) || !owner.canLdcClass
                        || ownerName.startsWith("[")) {
                        emitStamp("stampIdentity", 1);
                    } else {
                        super.visitInsn(Opcodes.DUP);
                        super.visitLdcInsn(Type.getObjectType(ownerName));
                        super.visitMethodInsn(Opcodes.INVOKESTATIC, BRIDGE, "stampSuper",
                            "(Ljava/lang/Object;Ljava/lang/Class;)V", false);
                        extraStack = Math.max(extraStack, 2);
                        owner.changed = true;
                    }
                }
            } else if (opcode == Opcodes.INVOKESTATIC && "java/lang/System".equals(ownerName)
                && "identityHashCode".equals(name) && "(Ljava/lang/Object;)I".equals(descriptor)) {
                emitStamp("stampIdentity", 1);
            }
            super.visitMethodInsn(opcode, ownerName, name, descriptor, isInterface);
            if (opcode == Opcodes.INVOKESTATIC && "java/lang/ClassLoader".equals(ownerName)
                && DEFINE_CLASS_NATIVES.contains(name) && descriptor.endsWith(")Ljava/lang/Class;")) {
                // the new Class is on the stack: stamp its mirror (content-derived) before HotSpot
                // hashes it from the linking thread's generator when the class is linked
                emitStamp("stampIdentity", 1);
            }
        }

        private void emitStamp(String hook, int extra) {
            super.visitInsn(Opcodes.DUP);
            super.visitMethodInsn(Opcodes.INVOKESTATIC, BRIDGE, hook, "(Ljava/lang/Object;)V", false);
            extraStack = Math.max(extraStack, extra);
            owner.changed = true;
        }

        @Override
        public void visitInvokeDynamicInsn(String name, String descriptor, Handle bsm, Object... bsmArgs) {
            if (LMF.equals(bsm.getOwner()) && bsmArgs != null && bsmArgs.length >= 3
                && !isSerializableAlt(bsm, bsmArgs) && bsmArgs[1] instanceof Handle) {
                Handle replacement = replacementFor((Handle) bsmArgs[1]);
                if (replacement != null) {
                    Object[] args = bsmArgs.clone();
                    args[1] = replacement;
                    owner.changed = true;
                    super.visitInvokeDynamicInsn(name, descriptor, bsm, args);
                    return;
                }
            }
            super.visitInvokeDynamicInsn(name, descriptor, bsm, bsmArgs);
        }

        private static boolean isSerializableAlt(Handle bsm, Object[] args) {
            return "altMetafactory".equals(bsm.getName())
                && (args.length < 4 || !(args[3] instanceof Integer) || (((Integer) args[3]) & FLAG_SERIALIZABLE) != 0);
        }

        private static Handle replacementFor(Handle impl) {
            int tag = impl.getTag();
            if ((tag == Opcodes.H_INVOKEVIRTUAL || tag == Opcodes.H_INVOKEINTERFACE)
                && "hashCode".equals(impl.getName()) && "()I".equals(impl.getDesc())
                && !CONTENT_HASHED_FINAL.contains(impl.getOwner())) {
                return new Handle(Opcodes.H_INVOKESTATIC, BRIDGE, "hashCodeOf", "(Ljava/lang/Object;)I", false);
            }
            if (tag == Opcodes.H_INVOKESTATIC && "java/lang/System".equals(impl.getOwner())
                && "identityHashCode".equals(impl.getName()) && "(Ljava/lang/Object;)I".equals(impl.getDesc())) {
                return new Handle(Opcodes.H_INVOKESTATIC, BRIDGE, "identityHashCodeOf", "(Ljava/lang/Object;)I", false);
            }
            return null;
        }

        @Override
        public void visitMaxs(int maxStack, int maxLocals) {
            super.visitMaxs(maxStack + extraStack, maxLocals);
        }
    }
}
