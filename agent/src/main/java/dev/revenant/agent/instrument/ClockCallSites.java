package dev.revenant.agent.instrument;

import java.lang.instrument.ClassFileTransformer;
import java.nio.charset.StandardCharsets;
import java.security.ProtectionDomain;

import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Handle;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

/**
 * Rewrites the clock and timed-wait call sites of app classes to the {@code Hooks}:
 * {@code System.nanoTime()}, {@code System.currentTimeMillis()}, {@code Thread.sleep(long)},
 * {@code o.wait(long)}, {@code LockSupport.parkNanos(long)} and {@code parkNanos(Object, long)} —
 * as calls, and as method references ({@code System::nanoTime} handed to a lambda factory).
 *
 * <p>Each replacement has the same stack effect as the call it replaces ({@code o.wait(t)} becomes
 * the static {@code Hooks.timedWait(o, t)}), so no frame or max-stack changes: plain ASM with the
 * constant pool copied. Written directly on ASM rather than ByteBuddy's MemberSubstitution, which
 * fails on the field handles of record classes' {@code ObjectMethods} bootstrap (leaving records
 * unrecorded) and costs more per class.
 */
final class ClockCallSites implements ClassFileTransformer {
    private static final String HOOKS = "dev/revenant/bridge/Hooks";
    private static final byte[][] NAMES = {ascii("nanoTime"), ascii("currentTimeMillis"), ascii("sleep"),
        ascii("wait"), ascii("parkNanos")};

    private final HashTransformer.AppClasses app;

    ClockCallSites(HashTransformer.AppClasses app) {
        this.app = app;
    }

    @Override
    public byte[] transform(Module module, ClassLoader loader, String name, Class<?> redefined, ProtectionDomain pd,
                            byte[] bytes) {
        try {
            if (name == null || !app.isApp(loader, name) || !mayReference(bytes)) {
                return null;
            }
            return rewrite(bytes);
        } catch (Throwable t) {
            // A class we cannot rewrite keeps its live clock reads; the app must not see our error.
            return null;
        }
    }

    /** The rewritten class, or null if it has no such call site. */
    static byte[] rewrite(byte[] bytes) {
        ClassReader r = new ClassReader(bytes);
        ClassWriter w = new ClassWriter(r, 0);
        boolean[] changed = {false};
        r.accept(new ClassVisitor(Opcodes.ASM9, w) {
            @Override
            public MethodVisitor visitMethod(int access, String n, String d, String sig, String[] ex) {
                return new MethodVisitor(Opcodes.ASM9, super.visitMethod(access, n, d, sig, ex)) {
                    @Override
                    public void visitMethodInsn(int op, String owner, String mn, String md, boolean itf) {
                        String[] to = replacement(op, owner, mn, md);
                        if (to != null) {
                            changed[0] = true;
                            super.visitMethodInsn(Opcodes.INVOKESTATIC, HOOKS, to[0], to[1], false);
                        } else {
                            super.visitMethodInsn(op, owner, mn, md, itf);
                        }
                    }

                    @Override
                    public void visitInvokeDynamicInsn(String n, String d, Handle bsm, Object... args) {
                        if (bsm.getOwner().equals("java/lang/invoke/LambdaMetafactory") && args.length >= 3
                                && args[1] instanceof Handle h && !isSerializable(bsm, args)) {
                            String[] to = replacement(opcodeOf(h.getTag()), h.getOwner(), h.getName(), h.getDesc());
                            if (to != null) {
                                changed[0] = true;
                                args = args.clone();
                                args[1] = new Handle(Opcodes.H_INVOKESTATIC, HOOKS, to[0], to[1], false);
                            }
                        }
                        super.visitInvokeDynamicInsn(n, d, bsm, args);
                    }
                };
            }
        }, 0);
        return changed[0] ? w.toByteArray() : null;
    }

    /** {name, descriptor} of the Hooks method that replaces this call, or null. */
    static String[] replacement(int op, String owner, String name, String desc) {
        if (op == Opcodes.INVOKESTATIC) {
            switch (owner + "." + name + desc) {
                case "java/lang/System.nanoTime()J":
                    return new String[] {"nanoTime", "()J"};
                case "java/lang/System.currentTimeMillis()J":
                    return new String[] {"currentTimeMillis", "()J"};
                case "java/lang/Thread.sleep(J)V":
                    return new String[] {"sleep", "(J)V"};
                case "java/util/concurrent/locks/LockSupport.parkNanos(J)V":
                    return new String[] {"parkNanos", "(J)V"};
                case "java/util/concurrent/locks/LockSupport.parkNanos(Ljava/lang/Object;J)V":
                    return new String[] {"parkNanos", "(Ljava/lang/Object;J)V"};
                default:
                    return null;
            }
        }
        // Object.wait(long) is final: whatever the owner named at the call site, it is this method.
        if (op == Opcodes.INVOKEVIRTUAL && name.equals("wait") && desc.equals("(J)V")) {
            return new String[] {"timedWait", "(Ljava/lang/Object;J)V"};
        }
        return null;
    }

    private static int opcodeOf(int handleTag) {
        return switch (handleTag) {
            case Opcodes.H_INVOKESTATIC -> Opcodes.INVOKESTATIC;
            case Opcodes.H_INVOKEVIRTUAL -> Opcodes.INVOKEVIRTUAL;
            default -> -1;
        };
    }

    /** Serializable lambdas check their implementation handle when they are deserialised: leave them. */
    private static boolean isSerializable(Handle bsm, Object[] args) {
        return bsm.getName().equals("altMetafactory") && args.length > 3 && args[3] instanceof Integer flags
                && (flags & 1) != 0;
    }

    /** Cheap over-approximation: the constant pool holds one of the method names as UTF-8. */
    static boolean mayReference(byte[] bytes) {
        for (byte[] n : NAMES) {
            if (indexOf(bytes, n) >= 0) {
                return true;
            }
        }
        return false;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0, last = hay.length - needle.length; i <= last; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
