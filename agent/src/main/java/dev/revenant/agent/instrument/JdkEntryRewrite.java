package dev.revenant.agent.instrument;

import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.Label;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;
import org.objectweb.asm.Type;

/**
 * Calls into {@code dev.revenant.bridge.JdkHooks} inserted into a JDK method, in plain ASM: what
 * ByteBuddy's {@code Advice} did for these methods, without loading ByteBuddy (about 1,200 classes
 * and the larger part of the agent's start-up).
 *
 * <ul>
 *   <li>{@link #returnValue}: before each return, the returned value goes through a hook of type
 *       {@code (R)R} ({@code ret = hook(ret)}); the stack keeps its shape;</li>
 *   <li>{@link #beforeReturn}: before each return of a {@code void} method, a hook is called with
 *       some of the method's reference arguments;</li>
 *   <li>{@link #atEntry}: the same at the method's start;</li>
 *   <li>{@link #bracket}: one hook at the start and another at every exit, normal or by an
 *       exception: the original code is covered by one catch-all handler, added after all the
 *       method's own handlers (so it only sees what the method lets escape), that calls the exit
 *       hook and rethrows. Its stack map frame declares no locals, which every frame in the range
 *       satisfies, so no local variable is added or renumbered.</li>
 * </ul>
 *
 * Exceptional exits do not run {@code returnValue}/{@code beforeReturn} hooks (as advice without
 * {@code onThrowable}). The hooks never throw ({@code JdkHooks} catches everything), which stands
 * in for Advice's {@code suppress = Throwable.class}.
 */
final class JdkEntryRewrite implements ClassRewrite {
    static final String HOOKS = "dev/revenant/bridge/JdkHooks";

    private enum Kind { RETURN_VALUE, BEFORE_RETURN, AT_ENTRY, BRACKET }

    private final Kind kind;
    private final String owner;
    private final String name;
    private final boolean namePrefix;
    private final String descPrefix;
    private final String hook;
    private final String hookDesc;
    private final String exitHook;
    private final int[] loads;

    private JdkEntryRewrite(Kind kind, String owner, String name, boolean namePrefix, String descPrefix, String hook,
                            String hookDesc, String exitHook, int[] loads) {
        this.kind = kind;
        this.owner = owner;
        this.name = name;
        this.namePrefix = namePrefix;
        this.descPrefix = descPrefix;
        this.hook = hook;
        this.hookDesc = hookDesc;
        this.exitHook = exitHook;
        this.loads = loads;
    }

    /**
     * {@code ret = JdkHooks.hook(ret)} before each return of method {@code name} with descriptor
     * {@code desc}; the hook takes and returns the method's return type.
     */
    static JdkEntryRewrite returnValue(String name, String desc, String hook) {
        String r = Type.getReturnType(desc).getDescriptor();
        if (r.equals("V")) {
            throw new IllegalArgumentException(name + desc + " returns nothing");
        }
        return new JdkEntryRewrite(Kind.RETURN_VALUE, HOOKS, name, false, desc, hook, "(" + r + ")" + r, null, new int[0]);
    }

    /**
     * {@code JdkHooks.hook(args at slots)} before each return of the {@code void} methods named
     * {@code name} whose descriptor starts with {@code descPrefix}; {@code slots} are the local
     * variable slots of reference arguments ({@code 0} is {@code this} in an instance method).
     */
    static JdkEntryRewrite beforeReturn(String name, String descPrefix, String hook, String hookDesc, int... slots) {
        return new JdkEntryRewrite(Kind.BEFORE_RETURN, HOOKS, name, false, descPrefix, hook, hookDesc, null, slots);
    }

    /** {@code JdkHooks.hook(args at slots)} first thing in method {@code name} with descriptor {@code desc}. */
    static JdkEntryRewrite atEntry(String name, String desc, String hook, String hookDesc, int... slots) {
        return new JdkEntryRewrite(Kind.AT_ENTRY, HOOKS, name, false, desc, hook, hookDesc, null, slots);
    }

    /**
     * {@code JdkHooks.enterHook()} first thing and {@code JdkHooks.exitHook()} at every exit of
     * each method whose name starts with {@code namePrefix}.
     */
    static JdkEntryRewrite bracket(String namePrefix, String enterHook, String exitHook) {
        return new JdkEntryRewrite(Kind.BRACKET, HOOKS, namePrefix, true, "", enterHook, "()V", exitHook, new int[0]);
    }

    /** {@link #bracket} of the one method {@code name} with descriptor {@code desc}. */
    static JdkEntryRewrite bracket(String name, String desc, String enterHook, String exitHook) {
        return new JdkEntryRewrite(Kind.BRACKET, HOOKS, name, false, desc, enterHook, "()V", exitHook, new int[0]);
    }

    /**
     * The same rewrite calling the hooks in another class on the boot class path (internal name,
     * e.g. {@code dev/revenant/bridge/NetHooks}) instead of {@code JdkHooks}. Its hooks must not
     * throw either: nothing around the inserted call catches.
     */
    JdkEntryRewrite callingInto(String hookOwner) {
        return new JdkEntryRewrite(kind, hookOwner, name, namePrefix, descPrefix, hook, hookDesc, exitHook, loads);
    }

    @Override
    public ClassVisitor wrap(ClassVisitor next) {
        return new Visitor(next);
    }

    @Override
    public java.util.function.BiPredicate<String, String> methods(org.objectweb.asm.ClassReader reader) {
        return (methodName, desc) -> matches(0, methodName, desc);
    }

    @Override
    public String toString() {
        return kind.name().toLowerCase(java.util.Locale.ROOT) + " " + name + (namePrefix ? "*" : "") + descPrefix
                + " -> " + owner.substring(owner.lastIndexOf('/') + 1) + "." + hook
                + (exitHook == null ? "" : "/" + exitHook);
    }

    private boolean matches(int access, String methodName, String desc) {
        if (!ClassRewrite.hasCode(access)) {
            return false;
        }
        boolean nameOk = namePrefix ? methodName.startsWith(name) : methodName.equals(name);
        if (!nameOk || !desc.startsWith(descPrefix)) {
            return false;
        }
        return kind != Kind.BEFORE_RETURN || desc.endsWith(")V");
    }

    private final class Visitor extends ClassVisitor implements Tracking {
        private boolean changed;

        Visitor(ClassVisitor next) {
            super(Opcodes.ASM9, next);
        }

        @Override
        public MethodVisitor visitMethod(int access, String methodName, String desc, String signature,
                                         String[] exceptions) {
            MethodVisitor mv = super.visitMethod(access, methodName, desc, signature, exceptions);
            if (mv == null || !matches(access, methodName, desc)) {
                return mv;
            }
            changed = true;
            return new Inserting(mv);
        }

        @Override
        public boolean changed() {
            return changed;
        }

        @Override
        public String target() {
            return JdkEntryRewrite.this.toString();
        }
    }

    private final class Inserting extends MethodVisitor {
        private final Label start = new Label();

        Inserting(MethodVisitor next) {
            super(Opcodes.ASM9, next);
        }

        private void call(String method, String desc) {
            for (int slot : loads) {
                super.visitVarInsn(Opcodes.ALOAD, slot);
            }
            super.visitMethodInsn(Opcodes.INVOKESTATIC, owner, method, desc, false);
        }

        @Override
        public void visitCode() {
            super.visitCode();
            if (kind == Kind.AT_ENTRY || kind == Kind.BRACKET) {
                call(hook, hookDesc);
            }
            if (kind == Kind.BRACKET) {
                super.visitLabel(start);
            }
        }

        @Override
        public void visitInsn(int opcode) {
            if (opcode >= Opcodes.IRETURN && opcode <= Opcodes.RETURN) {
                switch (kind) {
                    case RETURN_VALUE -> {
                        if (opcode != Opcodes.RETURN) {
                            super.visitMethodInsn(Opcodes.INVOKESTATIC, owner, hook, hookDesc, false);
                        }
                    }
                    case BEFORE_RETURN -> call(hook, hookDesc);
                    case BRACKET -> super.visitMethodInsn(Opcodes.INVOKESTATIC, owner, exitHook, "()V", false);
                    default -> {
                        // AT_ENTRY: nothing at the exits
                    }
                }
            }
            super.visitInsn(opcode);
        }

        @Override
        public void visitMaxs(int maxStack, int maxLocals) {
            if (kind == Kind.BRACKET) {
                Label end = new Label();
                Label handler = new Label();
                super.visitLabel(end);
                // Added last: the method's own handlers, nested inside, are searched first.
                super.visitTryCatchBlock(start, end, handler, "java/lang/Throwable");
                super.visitLabel(handler);
                super.visitFrame(Opcodes.F_FULL, 0, null, 1, new Object[] {"java/lang/Throwable"});
                super.visitMethodInsn(Opcodes.INVOKESTATIC, owner, exitHook, "()V", false);
                super.visitInsn(Opcodes.ATHROW);
                maxStack = Math.max(maxStack, 1);
            }
            super.visitMaxs(maxStack + loads.length, maxLocals);
        }
    }
}
