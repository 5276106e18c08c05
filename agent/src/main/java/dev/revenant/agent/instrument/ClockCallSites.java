package dev.revenant.agent.instrument;

import java.io.IOException;
import java.io.InputStream;

import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

/**
 * Replaces the calls that read the system clock or wait with a timeout, in every method and
 * constructor of a class, with the matching {@code dev.revenant.bridge.Hooks} method of the same
 * stack shape (a static method taking the receiver first where the call was virtual):
 *
 * <ul>
 *   <li>{@code System.nanoTime()}, {@code System.currentTimeMillis()};</li>
 *   <li>{@code Thread.sleep(long)}, also when compiled against a subclass of Thread (an unqualified
 *       {@code sleep(..)} inside one), unless that subclass declares its own static
 *       {@code sleep(long)}: found by reading the owner's class file (and its superclasses') through
 *       the defining loader, never by loading a class;</li>
 *   <li>{@code Object.wait(long)} and {@code Object.wait()} on any receiver (final: no class can mean
 *       another method);</li>
 *   <li>{@code LockSupport.parkNanos(long)} and {@code parkNanos(Object, long)}.</li>
 * </ul>
 *
 * Plain ASM, one pass, no new branches, no stack growth: what ByteBuddy's {@code MemberSubstitution}
 * did here, which resolved every invoked method of the class through a type pool (some 200 ms for
 * {@code java.util.Date} alone at start-up, and a few milliseconds per app class).
 */
final class ClockCallSites {
    static final String HOOKS = "dev/revenant/bridge/Hooks";

    private ClockCallSites() {}

    /**
     * Whether an invocation of {@code owner.name desc} may be a site this rewrite changes (for
     * {@link CallSiteScan}: a superset is fine, the visitor decides).
     */
    static boolean isRelevant(String owner, String name, String desc) {
        return switch (name) {
            case "nanoTime", "currentTimeMillis" -> "java/lang/System".equals(owner);
            case "sleep" -> "(J)V".equals(desc);
            case "wait" -> "(J)V".equals(desc) || "()V".equals(desc);
            case "parkNanos" -> "java/util/concurrent/locks/LockSupport".equals(owner);
            case "yield", "onSpinWait" -> "java/lang/Thread".equals(owner);
            default -> false;
        };
    }

    /** For JDK classes (boot loader); their own bytes are looked up if ever needed. */
    static final ClassRewrite JDK = forJdk(true);

    /**
     * For JDK classes that read the clock on some JDK versions only (the concurrency classes moved
     * their timed waits between classes from 17 to 25): finding nothing there is no error.
     */
    static final ClassRewrite JDK_IF_ANY = forJdk(false);

    private static ClassRewrite forJdk(boolean required) {
        return new ClassRewrite() {
            @Override
            public ClassVisitor wrap(ClassVisitor next) {
                return new Visitor(next, null, null, required, false);
            }

            @Override
            public java.util.function.BiPredicate<String, String> methods(ClassReader reader) {
                java.util.Set<String> m = CallSiteScan.methodsToVisit(reader, ClockCallSites::isRelevant, false);
                return m == CallSiteScan.ALL ? null : (name, desc) -> m.contains(name + desc);
            }
        };
    }

    static final class Visitor extends ClassVisitor implements ClassRewrite.Tracking {
        private final ClassLoader loader;
        private final byte[] ownBytes;
        private String self;
        private String selfSuper;
        private final boolean required;
        /** App code: its spin hints become scheduling points (the JDK's own stay as they are). */
        private final boolean appClass;
        boolean changed;

        Visitor(ClassVisitor next, ClassLoader loader, byte[] ownBytes, boolean required, boolean appClass) {
            super(Opcodes.ASM9, next);
            this.loader = loader;
            this.ownBytes = ownBytes;
            this.required = required;
            this.appClass = appClass;
        }

        @Override
        public boolean required() {
            return required;
        }

        @Override
        public void visit(int version, int access, String name, String signature, String superName,
                          String[] interfaces) {
            self = name;
            selfSuper = superName;
            super.visit(version, access, name, signature, superName, interfaces);
        }

        @Override
        public MethodVisitor visitMethod(int access, String name, String descriptor, String signature,
                                         String[] exceptions) {
            MethodVisitor mv = super.visitMethod(access, name, descriptor, signature, exceptions);
            if (mv == null || !ClassRewrite.hasCode(access)) {
                return mv;
            }
            return new Sites(mv);
        }

        @Override
        public boolean changed() {
            return changed;
        }

        @Override
        public String target() {
            return "clock call sites";
        }

        private final class Sites extends MethodVisitor {
            /** A spin hint's hook takes an argument the original call did not: one more stack slot. */
            private boolean pushed;

            Sites(MethodVisitor next) {
                super(Opcodes.ASM9, next);
            }

            @Override
            public void visitMaxs(int maxStack, int maxLocals) {
                super.visitMaxs(pushed ? maxStack + 1 : maxStack, maxLocals);
            }

            @Override
            public void visitMethodInsn(int opcode, String owner, String name, String desc, boolean isInterface) {
                String hook = null;
                String hookDesc = desc;
                if (opcode == Opcodes.INVOKESTATIC) {
                    if ("java/lang/System".equals(owner)) {
                        if ("nanoTime".equals(name) && "()J".equals(desc)) {
                            hook = "nanoTime";
                        } else if ("currentTimeMillis".equals(name) && "()J".equals(desc)) {
                            hook = "currentTimeMillis";
                        }
                    } else if ("java/util/concurrent/locks/LockSupport".equals(owner) && "parkNanos".equals(name)
                            && ("(J)V".equals(desc) || "(Ljava/lang/Object;J)V".equals(desc))) {
                        hook = "parkNanos";
                    } else if ("sleep".equals(name) && "(J)V".equals(desc) && !isInterface
                            && isThreadSleep(owner)) {
                        hook = "sleep";
                    } else if (appClass && "java/lang/Thread".equals(owner) && "()V".equals(desc)
                            && ("yield".equals(name) || "onSpinWait".equals(name))) {
                        hook = "spinPoint";
                        hookDesc = "(Z)V";
                        super.visitInsn("onSpinWait".equals(name) ? Opcodes.ICONST_1 : Opcodes.ICONST_0);
                        pushed = true;
                    }
                } else if ((opcode == Opcodes.INVOKEVIRTUAL || opcode == Opcodes.INVOKEINTERFACE
                        || opcode == Opcodes.INVOKESPECIAL) && "wait".equals(name) && "(J)V".equals(desc)) {
                    hook = "timedWait";
                    hookDesc = "(Ljava/lang/Object;J)V";
                } else if ((opcode == Opcodes.INVOKEVIRTUAL || opcode == Opcodes.INVOKEINTERFACE
                        || opcode == Opcodes.INVOKESPECIAL) && "wait".equals(name) && "()V".equals(desc)) {
                    hook = "untimedWait"; // a scheduling point under the serial scheduler
                    hookDesc = "(Ljava/lang/Object;)V";
                }
                if (hook == null) {
                    super.visitMethodInsn(opcode, owner, name, desc, isInterface);
                } else {
                    changed = true;
                    super.visitMethodInsn(Opcodes.INVOKESTATIC, HOOKS, hook, hookDesc, false);
                }
            }
        }

        /**
         * Whether {@code invokestatic owner.sleep(J)V} means {@code Thread.sleep(long)}: the owner is
         * Thread, or a subclass of it none of whose classes up to Thread declares {@code sleep(J)V}.
         * Unknown (a class file not found) counts as no.
         */
        private boolean isThreadSleep(String owner) {
            String c = owner;
            for (int depth = 0; depth < 64 && c != null; depth++) {
                if ("java/lang/Thread".equals(c)) {
                    return true;
                }
                if ("java/lang/Object".equals(c)) {
                    return false;
                }
                byte[] bytes = c.equals(self) && ownBytes != null ? ownBytes : classFile(loader, c);
                if (bytes == null) {
                    return false;
                }
                Header h = Header.of(bytes);
                if (h.declaresSleep) {
                    return false;
                }
                c = c.equals(self) && selfSuper != null ? selfSuper : h.superName;
            }
            return false;
        }
    }

    /** A class's super class and whether it declares {@code sleep(J)V}, from its class file. */
    private static final class Header extends ClassVisitor {
        String superName;
        boolean declaresSleep;

        private Header() {
            super(Opcodes.ASM9);
        }

        static Header of(byte[] bytes) {
            Header h = new Header();
            new ClassReader(bytes).accept(h, ClassReader.SKIP_CODE | ClassReader.SKIP_DEBUG | ClassReader.SKIP_FRAMES);
            return h;
        }

        @Override
        public void visit(int version, int access, String name, String signature, String superName,
                          String[] interfaces) {
            this.superName = superName;
        }

        @Override
        public MethodVisitor visitMethod(int access, String name, String descriptor, String signature,
                                         String[] exceptions) {
            if ("sleep".equals(name) && "(J)V".equals(descriptor)) {
                declaresSleep = true;
            }
            return null;
        }
    }

    /** The class file of {@code internalName} as {@code loader} (null: boot) would find it, or null. */
    static byte[] classFile(ClassLoader loader, String internalName) {
        String resource = internalName + ".class";
        try (InputStream in = loader == null ? ClassLoader.getPlatformClassLoader().getResourceAsStream(resource)
                : loader.getResourceAsStream(resource)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
